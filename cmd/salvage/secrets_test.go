package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/salvagehq/salvage/evidence"
)

// TestDemoLeaksNoSecret runs the whole demo on the committed scenario and
// reads every byte it wrote (the case database, the raw packs, every
// export, its stdout and stderr) for the secrets planted in the scenario's
// transcript: none may appear, and their fingerprints must, so an analyst
// can tell which keys to revoke.
func TestDemoLeaksNoSecret(t *testing.T) {
	scenario := filepath.Join("..", "..", "fixtures", "scenario")
	secrets := plantedSecrets(t, filepath.Join(scenario, "truth", "secrets.txt"))

	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"demo", "--scenario", scenario, "--out", filepath.Join(out, "demo")},
		env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
	if code != exitOK {
		t.Fatalf("demo exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	written := map[string][]byte{"stdout": stdout.Bytes(), "stderr": stderr.Bytes()}
	err := filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".xlsx") {
			// A workbook is a zip: read what its parts say.
			b = unzipAll(t, b)
			if !bytes.Contains(b, []byte("sharedStrings")) && !bytes.Contains(b, []byte("inlineStr")) {
				t.Errorf("%s: no text found in the workbook", path)
			}
		}
		written[path] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) < 4 {
		t.Fatalf("only %d outputs read: %v", len(written), written)
	}
	all := bytes.Join(func() [][]byte {
		var bs [][]byte
		for _, b := range written {
			bs = append(bs, b)
		}
		return bs
	}(), nil)
	for _, s := range secrets {
		for name, b := range written {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the planted secret %s", name, evidence.Fingerprint(s))
			}
		}
		// A URL with a password is fingerprinted as its password; every
		// other secret as itself.
		if strings.Contains(s, "://") {
			continue
		}
		if fp := evidence.Fingerprint(s); !bytes.Contains(all, []byte(fp)) {
			t.Errorf("fingerprint %s of a planted secret appears nowhere", fp)
		}
	}
	if !strings.Contains(stdout.String(), "incident") {
		t.Errorf("the demo printed no incident line:\n%s", stdout.String())
	}
}

// unzipAll is every file of a zip archive, one after the other.
func unzipAll(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		part, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, part...)
	}
	return all
}

func plantedSecrets(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Fatal("no planted secrets")
	}
	return out
}
