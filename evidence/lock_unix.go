//go:build unix

package evidence

import (
	"errors"
	"os"
	"syscall"
)

// tryLock opens path (creating it) and takes an exclusive advisory lock on it
// without waiting. It returns errLocked when another open file holds it, in
// this process or another. The kernel drops the lock when the process dies,
// however it dies.
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}
