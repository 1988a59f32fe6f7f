//go:build unix && !linux

package evidence

import "errors"

// populate is not done on this system: pages are faulted in as read.
func populate([]byte) error { return errors.ErrUnsupported }
