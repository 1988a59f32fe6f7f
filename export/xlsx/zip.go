package xlsx

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// sortedZip is the archive excelize writes the workbook into: each part is
// compressed as it comes (fast deflate, into a temporary file), and the
// archive is written to out at Close with the parts in name order.
// excelize hands over its streamed sheets in map order, and the same case
// must give the same bytes; nor does the workbook wait in memory whole.
type sortedZip struct {
	out   io.Writer
	parts []*zipPart
	cur   *zipPart
}

type zipPart struct {
	name string
	file *os.File
	crc  hash.Hash32
	fw   *flate.Writer
	size int64
}

func (p *zipPart) Write(b []byte) (int, error) {
	p.crc.Write(b)
	p.size += int64(len(b))
	return p.fw.Write(b)
}

func newSortedZip(out io.Writer) *sortedZip { return &sortedZip{out: out} }

func (z *sortedZip) Create(name string) (io.Writer, error) {
	if err := z.finish(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "salvage-xlsx-*")
	if err != nil {
		return nil, err
	}
	fw, err := flate.NewWriter(f, flate.BestSpeed)
	if err != nil {
		f.Close()
		return nil, err
	}
	z.cur = &zipPart{name: name, file: f, crc: crc32.NewIEEE(), fw: fw}
	z.parts = append(z.parts, z.cur)
	return z.cur, nil
}

func (z *sortedZip) AddFS(fs.FS) error { return errors.New("xlsx: AddFS is not supported") }

// finish ends the part being written.
func (z *sortedZip) finish() error {
	if z.cur == nil {
		return nil
	}
	err := z.cur.fw.Close()
	z.cur = nil
	return err
}

func (z *sortedZip) Close() error {
	defer func() {
		for _, p := range z.parts {
			p.file.Close()
			os.Remove(p.file.Name())
		}
	}()
	if err := z.finish(); err != nil {
		return err
	}
	slices.SortFunc(z.parts, func(a, b *zipPart) int { return strings.Compare(a.name, b.name) })
	zw := zip.NewWriter(z.out)
	for _, p := range z.parts {
		compressed, err := p.file.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		if _, err := p.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: p.name, Method: zip.Deflate, CRC32: p.crc.Sum32(),
			CompressedSize64: uint64(compressed), UncompressedSize64: uint64(p.size)})
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, p.file); err != nil {
			return err
		}
	}
	return zw.Close()
}
