package trace

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Appender stores traces (store.Store does).
type Appender interface {
	// AppendTraces stores masked traces, each in its environment, keeping
	// the newest latchkey.KeepTraces of each connection.
	AppendTraces(ctx context.Context, traces ...latchkey.Trace) error
}

// Writer is the Sink of a server: it queues finished recorders and, on its
// own goroutine, masks them and writes them in batches. A full queue drops
// the trace rather than slow the flow, and the drops are logged.
type Writer struct {
	store  Appender
	logger *slog.Logger
	queue  chan item
	done   chan struct{}
	// mu keeps Write and Flush from sending on the queue Close closes.
	mu     sync.RWMutex
	closed bool
	// dropped counts traces left out since the last log line about it.
	dropped atomic.Int64
}

// item is a recorder to write, or a request to say when what came before
// it is written.
type item struct {
	rec     *Recorder
	flushed chan struct{}
}

// Writer tuning: the queue's size, a batch's size, how long a trace waits
// for its batch.
const (
	queueSize     = 4096
	batchSize     = 128
	batchInterval = 250 * time.Millisecond
)

// NewWriter starts a writer to st; Close stops it.
func NewWriter(st Appender, logger *slog.Logger) *Writer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{store: st, logger: logger, queue: make(chan item, queueSize), done: make(chan struct{})}
	go w.run()
	return w
}

// Write queues a finished recorder; it never blocks.
func (w *Writer) Write(r *Recorder) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.dropped.Add(1)
		return
	}
	select {
	case w.queue <- item{rec: r}:
	default:
		w.dropped.Add(1)
	}
}

// Flush returns once every trace queued before it is written, or when ctx
// ends. A listing calls it so that a flow that just ended shows.
func (w *Writer) Flush(ctx context.Context) error {
	ch := make(chan struct{})
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return nil
	}
	select {
	case w.queue <- item{flushed: ch}:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued and stops the writer; later traces are
// dropped.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(batchInterval)
	defer tick.Stop()
	pending := make([]*Recorder, 0, batchSize)
	batch := make([]latchkey.Trace, 0, batchSize)
	perConn := map[connOf]int{}
	flush := func() {
		if n := w.dropped.Swap(0); n > 0 {
			w.logger.Warn("flow traces were dropped: the trace queue was full", "dropped", n)
		}
		// The store keeps a connection's newest KeepTraces: older ones of a
		// batch would be deleted as they are written, so they are neither
		// masked nor written (a busy connection's calls).
		clear(perConn)
		for i := len(pending) - 1; i >= 0; i-- {
			k := pending[i].connOf()
			if perConn[k]++; perConn[k] > latchkey.KeepTraces {
				pending[i] = nil
			}
		}
		for _, r := range pending {
			if r == nil {
				continue
			}
			t := r.Trace()
			if t.App == "" || t.Org == "" || t.Config == "" {
				// A call that failed before its connection was known (an
				// API of no config the caller has): nothing to file it under.
				continue
			}
			batch = append(batch, t)
		}
		clear(pending)
		pending = pending[:0]
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := w.store.AppendTraces(ctx, batch...); err != nil {
			w.logger.Error("cannot write flow traces", "traces", len(batch), "error", err)
		}
		cancel()
		clear(batch) // no masked trace is kept past its write
		batch = batch[:0]
	}
	for {
		select {
		case it, ok := <-w.queue:
			if !ok {
				flush()
				return
			}
			if it.flushed != nil {
				flush()
				close(it.flushed)
				continue
			}
			pending = append(pending, it.rec)
			if len(pending) >= batchSize {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// connOf is the connection of a trace in its environment.
type connOf struct {
	env latchkey.Environment
	key latchkey.ConnectionKey
}

func (r *Recorder) connOf() connOf {
	r.mu.Lock()
	defer r.mu.Unlock()
	return connOf{r.t.Env, r.t.ConnectionKey}
}
