//go:build !unix

package evidence

import "os"

// packFile is an open pack, read with a system call each time: this build
// has no memory map.
type packFile struct {
	f *os.File
}

func (p *packFile) readAt(b []byte, off int64) error {
	_, err := p.f.ReadAt(b, off)
	return err
}

func (p *packFile) close() { p.f.Close() }

// prefault does nothing: there is no map to fill in.
func (p *packFile) prefault() {}
