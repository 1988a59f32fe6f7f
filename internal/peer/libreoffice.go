package peer

import (
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SheetsCSV opens an .xlsx workbook in headless LibreOffice (Debian
// libreoffice-calc-nogui) and converts every sheet to CSV (UTF-8, comma,
// values as stored rather than as formatted), as a spreadsheet user's
// program reads the file. It returns the rows of each sheet by sheet name,
// and fails the test if the conversion reports an error or writes nothing.
func SheetsCSV(t testing.TB, workbook string) map[string][][]string {
	t.Helper()
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		needPackage(t, "LibreOffice (soffice)", "libreoffice-calc-nogui")
	}
	out := t.TempDir()
	// A profile of its own: no first-start wizard, no lock on the user's.
	profile := t.TempDir()
	cmd := exec.Command(soffice, "-env:UserInstallation=file://"+profile, "--headless", "--norestore",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
		"--outdir", out, workbook)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("soffice --convert-to csv %s: %v\n%s", workbook, err, output)
	}
	for _, line := range strings.Split(string(output), "\n") {
		if l := strings.ToLower(line); strings.Contains(l, "error") && !strings.Contains(l, "dbus") {
			t.Fatalf("LibreOffice reported an error converting %s:\n%s", workbook, output)
		}
	}
	stem := strings.TrimSuffix(filepath.Base(workbook), filepath.Ext(workbook))
	files, _ := filepath.Glob(filepath.Join(out, stem+"-*.csv"))
	if len(files) == 0 {
		t.Fatalf("LibreOffice wrote no CSV for %s:\n%s", workbook, output)
	}
	sheets := map[string][][]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(strings.NewReader(string(data)))
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("read LibreOffice's CSV %s: %v", f, err)
		}
		sheets[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), stem+"-"), ".csv")] = rows
	}
	return sheets
}

// Resave opens an .xlsx workbook in headless LibreOffice and saves it
// again as .xlsx, as a reviewer's spreadsheet program would after an edit:
// shared strings, its own styles and number formats. It returns the path
// of the saved copy.
func Resave(t testing.TB, workbook string) string {
	t.Helper()
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		needPackage(t, "LibreOffice (soffice)", "libreoffice-calc-nogui")
	}
	out, profile := t.TempDir(), t.TempDir()
	cmd := exec.Command(soffice, "-env:UserInstallation=file://"+profile, "--headless", "--norestore",
		"--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", out, workbook)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("soffice --convert-to xlsx %s: %v\n%s", workbook, err, output)
	}
	saved := filepath.Join(out, filepath.Base(workbook))
	if _, err := os.Stat(saved); err != nil {
		t.Fatalf("LibreOffice saved nothing for %s:\n%s", workbook, output)
	}
	return saved
}
