package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.sql")
	if err := WriteFile(path, []byte("one"), 0o600, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), 0o600, false); !errors.Is(err, ErrExists) {
		t.Errorf("second write without overwrite: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Errorf("refused write changed the file: %q", b)
	}
	if err := WriteFile(path, []byte("three"), 0o644, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "three" {
		t.Errorf("overwrite: %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	assertNoTemp(t, dir)
}

func TestCloseWithoutCommitLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "review.xlsx")
	f, err := Create(path, 0o600, false)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half a workbook")
	f.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("abandoned file appeared: %v", err)
	}
	assertNoTemp(t, dir)
}

func TestCommitRefusesATargetThatAppeared(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x")
	f, err := Create(path, 0o600, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	os.WriteFile(path, []byte("someone else's"), 0o600)
	if err := f.Commit(); !errors.Is(err, ErrExists) {
		t.Errorf("commit over a new file: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "someone else's" {
		t.Errorf("file replaced: %q", b)
	}
	assertNoTemp(t, dir)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}
