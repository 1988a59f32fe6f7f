package main

import (
	"context"
	"io"

	"github.com/salvagehq/salvage/evidence"
)

func (c *exportCmd) exportXLSX(ctx context.Context, w io.Writer, s *evidence.Store) (int, error) {
	return 0, usagef("export xlsx: not in this build yet (issue #8)")
}
