package peer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The committed scenario's restored database (fixtures/scenario/restored)
// must load into every database the restore SQL targets. (SQLite is checked
// by the fixtures tests.)
func restoredSQL(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, name := range []string{"schema.sql", "backup.sql"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "scenario", "restored", name))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	return b.String()
}

func TestScenarioRestoredLoadsInPostgres(t *testing.T) {
	sql := restoredSQL(t)
	p := StartPostgres(t)
	p.Psql(t, "postgres", "create database restored")
	p.Psql(t, "restored", sql)
	if got := strings.TrimSpace(p.Psql(t, "restored", "select count(*) from vehicles")); got == "0" {
		t.Errorf("no vehicles loaded")
	}
	if got := strings.TrimSpace(p.Psql(t, "restored", "select count(*) from bookings b join customers c on c.id = b.customer_id")); got == "0" {
		t.Errorf("no bookings loaded")
	}
}

func TestScenarioRestoredLoadsInMariaDB(t *testing.T) {
	sql := restoredSQL(t)
	m := StartMariaDB(t)
	m.Exec(t, "", "create database restored")
	m.Exec(t, "restored", sql)
	if got := strings.TrimSpace(m.Exec(t, "restored", "select count(*) from bookings b join customers c on c.id = b.customer_id")); got == "0" {
		t.Errorf("no bookings loaded")
	}
	// Names with accents survive the trip (utf8mb4).
	if got := m.Exec(t, "restored", "select count(*) from vehicles where model like '%Série%'"); strings.TrimSpace(got) == "0" && strings.Contains(sql, "Série") {
		t.Errorf("accented text did not load as written")
	}
}
