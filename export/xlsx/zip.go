package xlsx

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/klauspost/compress/flate"
)

// sortedZip is the archive excelize writes the workbook into: each part is
// compressed as it comes (fast deflate, into a temporary file), and the
// archive is written to out at Close with the parts in name order.
// excelize hands over its streamed sheets in map order, and the same case
// must give the same bytes; nor does the workbook wait in memory whole.
//
// A worksheet part is kept as it comes (it is small: the big sheets' rows
// are not in it) and, when it holds a placeholder row of rows, the
// sheet's rows (already compressed) are put in its place.
type sortedZip struct {
	out   io.Writer
	rows  *rowSet
	parts []*zipPart
	cur   *zipPart
}

type zipPart struct {
	name string
	file *os.File
	crc  hash.Hash32
	fw   *flate.Writer
	size int64
	// raw holds a worksheet part uncompressed.
	raw *bytes.Buffer
}

func (p *zipPart) Write(b []byte) (int, error) {
	if p.raw != nil {
		return p.raw.Write(b)
	}
	p.crc.Write(b)
	p.size += int64(len(b))
	return p.fw.Write(b)
}

func newSortedZip(out io.Writer, rows *rowSet) *sortedZip { return &sortedZip{out: out, rows: rows} }

func (z *sortedZip) Create(name string) (io.Writer, error) {
	if err := z.finish(); err != nil {
		return nil, err
	}
	if strings.HasPrefix(name, "xl/worksheets/") && z.rows != nil {
		z.cur = &zipPart{name: name, raw: &bytes.Buffer{}}
		z.parts = append(z.parts, z.cur)
		return z.cur, nil
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
	if z.cur == nil || z.cur.raw != nil {
		z.cur = nil
		return nil
	}
	err := z.cur.fw.Close()
	z.cur = nil
	return err
}

func (z *sortedZip) Close() error {
	defer func() {
		for _, p := range z.parts {
			if p.file != nil {
				p.file.Close()
				os.Remove(p.file.Name())
			}
		}
	}()
	if err := z.finish(); err != nil {
		return err
	}
	slices.SortFunc(z.parts, func(a, b *zipPart) int { return strings.Compare(a.name, b.name) })
	zw := zip.NewWriter(z.out)
	for _, p := range z.parts {
		if p.raw != nil {
			if err := z.writeSheet(zw, p); err != nil {
				return err
			}
			continue
		}
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
	// Every sheet's rows must have found their placeholder: a sheet
	// written without them would look complete and hold nothing.
	if z.rows != nil {
		for _, r := range z.rows.byMarker {
			if !r.placed {
				return fmt.Errorf("write workbook: the rows of a sheet found no placeholder row (%s) in the sheets excelize wrote", r.marker)
			}
		}
	}
	return zw.Close()
}

// writeSheet writes a worksheet part kept uncompressed: with its rows in
// place of its placeholder row when it has one. The entry's deflate data
// is the part before the rows (compressed, ended by a sync flush), the
// rows' own deflate data, then the part after them (the final block).
func (z *sortedZip) writeSheet(zw *zip.Writer, p *zipPart) error {
	part := p.raw.Bytes()
	before, after, rows, ok := z.rows.spliceRows(part)
	if !ok {
		before, after = part, nil
	} else {
		rows.placed = true
	}
	var head, tail bytes.Buffer
	fw, err := flate.NewWriter(&head, flate.BestSpeed)
	if err != nil {
		return err
	}
	if _, err := fw.Write(before); err != nil {
		return err
	}
	if err := fw.Flush(); err != nil {
		return err
	}
	fw.Reset(&tail)
	if _, err := fw.Write(after); err != nil {
		return err
	}
	if err := fw.Close(); err != nil {
		return err
	}
	crc := crc32.ChecksumIEEE(before)
	size := int64(len(before))
	var body int64
	if ok {
		if body, err = rows.file.Seek(0, io.SeekCurrent); err != nil {
			return err
		}
		if _, err := rows.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		crc = crc32Combine(crc, rows.crc, rows.size)
		size += rows.size
	}
	crc = crc32Combine(crc, crc32.ChecksumIEEE(after), int64(len(after)))
	size += int64(len(after))
	w, err := zw.CreateRaw(&zip.FileHeader{Name: p.name, Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(int64(head.Len()) + body + int64(tail.Len())), UncompressedSize64: uint64(size)})
	if err != nil {
		return err
	}
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	if ok {
		if _, err := io.CopyN(w, rows.file, body); err != nil {
			return fmt.Errorf("%s: the rows: %w", p.name, err)
		}
	}
	_, err = w.Write(tail.Bytes())
	return err
}
