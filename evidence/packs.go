package evidence

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Raw bytes live outside the database, in append-only pack files under
// <case>/raw: one file per import job, so that imports running at once never
// share one. A row names its bytes by pack, offset and length, and keeps
// their SHA-256. Keeping megabytes of email bodies out of the database keeps
// it small and its scans fast, and writes each byte once instead of twice
// (write-ahead log, then database).
//
// A batch's bytes are appended and synced before the transaction that refers
// to them commits. A crash in between leaves bytes at a pack's end that no
// row refers to, which is harmless; nothing is ever rewritten.

const rawDir = "raw"

// packWriter appends to one job's pack.
type packWriter struct {
	name string // relative to the raw directory
	f    *os.File
	w    *bufio.Writer
	off  int64 // where the next append lands
}

func (s *Store) openPack(job *Job) (*packWriter, error) {
	if job.pack != nil {
		return job.pack, nil
	}
	name := "job-" + strconv.FormatInt(job.ID, 10) + ".pack"
	f, err := os.OpenFile(filepath.Join(s.dir, rawDir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open pack: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open pack: %w", err)
	}
	job.pack = &packWriter{name: name, f: f, w: bufio.NewWriterSize(f, 1<<20), off: info.Size()}
	return job.pack, nil
}

// add appends b and returns where it went.
func (p *packWriter) add(b []byte) (off int64, err error) {
	off = p.off
	if _, err := p.w.Write(b); err != nil {
		return 0, fmt.Errorf("write pack %s: %w", p.name, err)
	}
	p.off += int64(len(b))
	return off, nil
}

// sync makes what was added durable.
func (p *packWriter) sync() error {
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("write pack %s: %w", p.name, err)
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("sync pack %s: %w", p.name, err)
	}
	return nil
}

func (p *packWriter) close() error {
	err := p.w.Flush()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// packReader reads raw bytes back, keeping pack files open (and, where it
// can, mapped: see packFile).
type packReader struct {
	dir   string
	mu    sync.Mutex
	files map[string]*packFile
}

// errRawMissing means a row's bytes are not in its pack (the file is gone
// or shorter than the row says).
var errRawMissing = errors.New("raw bytes missing")

// read reads n bytes of pack at off.
func (r *packReader) read(pack string, off, n int64) ([]byte, error) {
	return r.readHinted(pack, off, n, false)
}

// readOfMany is read, by a reader that will read most of the pack in no
// particular order (every record, in id order): the pack's map is filled
// in ahead, in the background, instead of a page fault at a time.
func (r *packReader) readOfMany(pack string, off, n int64) ([]byte, error) {
	return r.readHinted(pack, off, n, true)
}

// readable is the Readable stored in the n bytes at off of pack, read as
// readOfMany.
func (r *packReader) readable(pack string, off, n int64) (*Readable, error) {
	enc, err := r.readOfMany(pack, off, n)
	if err != nil {
		return nil, err
	}
	defer ReleaseRaw(enc)
	return decodeReadable(enc)
}

// titleBytes is how much of a stored Readable is read for its title
// alone: the title's length and a title of a line or two.
const titleBytes = 256

// readableTitle is the title of the Readable stored in the n bytes at off
// of pack (Text left empty), read without the text after it.
func (r *packReader) readableTitle(pack string, off, n int64) (*Readable, error) {
	if n <= titleBytes {
		rd, err := r.readable(pack, off, n)
		if rd != nil {
			rd.Text = ""
		}
		return rd, err
	}
	enc, err := r.readOfMany(pack, off, titleBytes)
	if err != nil {
		return nil, err
	}
	defer ReleaseRaw(enc)
	size, k := binary.Uvarint(enc)
	if k <= 0 || size > uint64(n)-uint64(k) {
		return nil, errors.New("readable text: bad title length")
	}
	if size > uint64(len(enc)-k) { // a title longer than what was read
		rd, err := r.readable(pack, off, n)
		if rd != nil {
			rd.Text = ""
		}
		return rd, err
	}
	return &Readable{Title: string(enc[k : k+int(size)])}, nil
}

func (r *packReader) readHinted(pack string, off, n int64, many bool) ([]byte, error) {
	if n == 0 {
		return []byte{}, nil
	}
	if off < 0 || n < 0 { // not a place in a file, nor in a map of one
		return nil, fmt.Errorf("%w: pack %s has no %d bytes at %d", errRawMissing, pack, n, off)
	}
	r.mu.Lock()
	p, ok := r.files[pack]
	if !ok {
		f, err := os.Open(filepath.Join(r.dir, filepath.Base(pack)))
		if errors.Is(err, fs.ErrNotExist) {
			r.mu.Unlock()
			return nil, fmt.Errorf("%w: pack %s does not exist", errRawMissing, pack)
		}
		if err != nil {
			r.mu.Unlock()
			return nil, err
		}
		p = &packFile{f: f}
		r.files[pack] = p
	}
	r.mu.Unlock()
	b := newRaw(int(n))
	if err := p.readAt(b, off); err != nil {
		ReleaseRaw(b)
		return nil, fmt.Errorf("%w: pack %s has no %d bytes at %d (%v)", errRawMissing, pack, n, off, err)
	}
	if many {
		p.prefault()
	}
	return b, nil
}

func (r *packReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.files {
		p.close()
	}
	clear(r.files)
}

// Raw bytes are read into buffers of a few sizes, which ReleaseRaw gives
// back for later reads: a million records read for a workbook are not a
// million buffers for the collector.
const (
	rawMinClass = 10 // 1 KiB
	rawMaxClass = 16 // 64 KiB; larger buffers are not kept
)

var rawPools [rawMaxClass - rawMinClass + 1]sync.Pool // of *[]byte

// rawClass is the pool of a buffer of n bytes, and whether there is one.
func rawClass(n int) (int, bool) {
	c := max(bits.Len(uint(n-1)), rawMinClass)
	return c - rawMinClass, c <= rawMaxClass
}

func newRaw(n int) []byte {
	k, ok := rawClass(n)
	if !ok {
		return make([]byte, n)
	}
	if p, _ := rawPools[k].Get().(*[]byte); p != nil {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(k+rawMinClass))
}

// ReleaseRaw gives back the raw bytes of a record a query read
// (Record.Raw), for a later read to use. The caller keeps nothing that
// refers to them afterwards: neither the slice nor a string sharing its
// memory.
func ReleaseRaw(b []byte) {
	if k, ok := rawClass(cap(b)); ok && cap(b) == 1<<(k+rawMinClass) {
		b = b[:0]
		rawPools[k].Put(&b)
	}
}
