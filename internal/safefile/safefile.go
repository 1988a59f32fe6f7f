// Package safefile writes files so that a reader never sees a half-written
// one and an existing file is never replaced by accident: the bytes go to a
// temporary file beside the target, are synced, and only then take its name.
package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned when the target exists and overwriting was not asked
// for.
var ErrExists = errors.New("file exists")

// File is a file being written. Its contents appear at the target path only
// when Commit succeeds; Close without Commit discards them.
type File struct {
	*os.File
	target    string
	perm      fs.FileMode
	overwrite bool
	done      bool
}

// Create starts writing path with the given permissions. With overwrite
// false, Commit fails with ErrExists if path exists by then (checked early
// too, so a long export does not run only to be refused).
func Create(path string, perm fs.FileMode, overwrite bool) (*File, error) {
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%s: %w (use --force to replace it)", path, ErrExists)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("chmod temporary file: %w", err)
	}
	return &File{File: f, target: path, perm: perm, overwrite: overwrite}, nil
}

// Commit syncs the file and gives it its target name. Without overwrite the
// rename is done by a hard link, which fails if the target appeared in the
// meantime.
func (f *File) Commit() error {
	if f.done {
		return errors.New("safefile: commit after close")
	}
	f.done = true
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Sync(); err != nil {
		f.File.Close()
		return fmt.Errorf("sync %s: %w", f.target, err)
	}
	if err := f.File.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.target, err)
	}
	if f.overwrite {
		if err := os.Rename(tmp, f.target); err != nil {
			return fmt.Errorf("rename to %s: %w", f.target, err)
		}
	} else if err := os.Link(tmp, f.target); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w (use --force to replace it)", f.target, ErrExists)
		}
		return fmt.Errorf("link to %s: %w", f.target, err)
	}
	return syncDir(filepath.Dir(f.target))
}

// Close discards the file unless it was committed. It is safe to defer.
func (f *File) Close() error {
	if f.done {
		return nil
	}
	f.done = true
	err := f.File.Close()
	os.Remove(f.Name())
	return err
}

// WriteFile writes data to path as Create and Commit do.
func WriteFile(path string, data []byte, perm fs.FileMode, overwrite bool) error {
	f, err := Create(path, perm, overwrite)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
