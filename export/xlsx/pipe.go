package xlsx

import "context"

// pipe runs produce in its own goroutine and hands each value it sends to
// consume, in order: building rows (decoding, describing, redacting) and
// writing them (excelize) then use both cores. The first error of either
// side stops both and is returned.
func pipe[T any](ctx context.Context, produce func(ctx context.Context, send func(T) bool) error, consume func(T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan T, 512)
	errc := make(chan error, 1)
	go func() {
		defer close(ch)
		errc <- produce(ctx, func(v T) bool {
			select {
			case ch <- v:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	var err error
	for v := range ch {
		if err = consume(v); err != nil {
			cancel()
			break
		}
	}
	for range ch { // let the producer end
	}
	if perr := <-errc; err == nil {
		err = perr
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}
