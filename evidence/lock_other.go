//go:build !unix

package evidence

import "os"

// tryLock without flock: a running job is taken to be alive while its lock
// file exists, so a crashed job is only marked interrupted once its file is
// removed by hand.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if os.IsExist(err) {
		return nil, errLocked
	}
	return f, err
}
