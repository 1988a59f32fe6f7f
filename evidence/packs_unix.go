//go:build unix

package evidence

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
)

// packFile is an open pack read through a read-only memory map: a read is
// a copy instead of a pread system call, and writing a workbook reads a
// million records. The map covers the file as it was when first read;
// packs only grow, so a read past the mapped end maps the file again.
type packFile struct {
	f  *os.File
	mu sync.RWMutex // read-held while copying out of m; held to replace or unmap it
	m  []byte       // the file's first len(m) bytes; nil until a read maps it
	// prefaulting starts the map's filling in once (prefault).
	prefaulting sync.Once
}

// prefaultChunk is how much of a map prefault fills in at a time: the map
// is read-locked for that long only.
const prefaultChunk = 64 << 20

// prefault fills in the page tables of the map, in the background, once:
// a reader of most of a pack in id order (a workbook's million records)
// otherwise takes a page fault at almost every record, 2.5 s of a 30 s
// workbook; filling in 3.7 GB of cached pack takes 0.1 s. From a cold
// cache, it reads the pack from start to end, ahead of the readers'
// scattered reads. Where the system cannot, nothing is done.
func (p *packFile) prefault() {
	p.prefaulting.Do(func() {
		go func() {
			for at := 0; ; at += prefaultChunk {
				p.mu.RLock()
				if at >= len(p.m) { // done, or unmapped (closed)
					p.mu.RUnlock()
					return
				}
				err := populate(p.m[at:min(at+prefaultChunk, len(p.m))])
				p.mu.RUnlock()
				if err != nil {
					return
				}
			}
		}()
	})
}

// errCutShort is a copy that faulted: the file lost bytes after it was
// mapped.
var errCutShort = errors.New("the file was cut short after it was mapped")

func (p *packFile) readAt(b []byte, off int64) error {
	p.mu.RLock()
	if off <= int64(len(p.m)-len(b)) {
		err := copyMapped(b, p.m[off:])
		p.mu.RUnlock()
		return err
	}
	p.mu.RUnlock()
	return p.readPastMap(b, off)
}

// readPastMap reads bytes the map does not cover: the pack has grown since
// it was mapped (an import in this process), or the row asks for bytes the
// file does not have.
func (p *packFile) readPastMap(b []byte, off int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	size := int64(len(p.m))
	if off > size-int64(len(b)) { // unless a read waiting before this one has mapped it again
		var err error
		if size, err = p.remap(); err != nil {
			// The file cannot be mapped (no address space left, a file
			// system without mmap): read it with a system call.
			_, err := p.f.ReadAt(b, off)
			return err
		}
	}
	if off > size-int64(len(b)) {
		return fmt.Errorf("the file has %d", size)
	}
	return copyMapped(b, p.m[off:])
}

// remap maps the file at its present size if it has grown, and returns
// that size. A file that shrank keeps its larger map: reads from the part
// gone fault, which copyMapped reports.
func (p *packFile) remap() (int64, error) {
	info, err := p.f.Stat()
	if err != nil {
		return 0, err
	}
	size := info.Size()
	if size <= int64(len(p.m)) {
		return size, nil
	}
	if int64(int(size)) != size {
		return 0, fmt.Errorf("%d bytes do not fit in memory", size)
	}
	m, err := syscall.Mmap(int(p.f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("map: %w", err)
	}
	if p.m != nil {
		syscall.Munmap(p.m)
	}
	p.m = m
	return size, nil
}

// copyMapped copies the first len(b) bytes of m into b. Were the file cut
// short after it was mapped (an outside act, which verify reports), the
// copy would fault on the pages past its new end and crash salvage; the
// fault is an error instead. Bytes past the new end on its last page read
// as zeros: verify finds them altered.
func copyMapped(b, m []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if e := recover(); e != nil {
			if _, fault := e.(interface{ Addr() uintptr }); !fault {
				panic(e)
			}
			err = errCutShort
		}
	}()
	copy(b, m)
	return nil
}

// close unmaps the file once the copies in flight are done, and closes it.
func (p *packFile) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m != nil {
		syscall.Munmap(p.m)
		p.m = nil
	}
	p.f.Close()
}
