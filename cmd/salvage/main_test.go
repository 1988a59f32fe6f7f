package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"salvage": func() {
			os.Exit(run(context.Background(), os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
		},
	})
}

// TestScripts runs the command-line scripts in testdata/script: each is a
// txtar file of salvage command lines and the output they must give.
func TestScripts(t *testing.T) {
	scenario, err := filepath.Abs(filepath.Join("..", "..", "fixtures", "scenario"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("SCENARIO", scenario) // the committed scenario
			return nil
		},
	})
}
