package tracing

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// exporter batches ended spans and posts them as OTLP/HTTP protobuf, with the OpenTelemetry SDK's batch
// processor defaults (queue 2048, batches of up to 512, every 5 s; OTEL_BSP_* change them). A full queue
// drops spans rather than slow the packets down.
type exporter struct {
	url      string
	client   *http.Client
	headers  http.Header
	gzip     bool
	timeout  time.Duration
	resource []byte // the encoded Resource and scope, the same in every request
	log      *slog.Logger

	queue    chan *span
	maxBatch int
	delay    time.Duration
	flush    chan chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	dropped int
}

func newExporter(target string, resource []attribute.KeyValue) (*exporter, error) {
	e := &exporter{
		url: target, headers: http.Header{}, timeout: 10 * time.Second, log: slog.Default(),
		maxBatch: envInt("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512), delay: envMillis("OTEL_BSP_SCHEDULE_DELAY", 5*time.Second),
		flush: make(chan chan struct{}), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	e.queue = make(chan *span, max(envInt("OTEL_BSP_MAX_QUEUE_SIZE", 2048), 1))
	e.maxBatch = max(1, min(e.maxBatch, cap(e.queue)))
	for _, h := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
		if err := parseHeaders(os.Getenv(h), e.headers); err != nil {
			return nil, fmt.Errorf("%s: %w", h, err)
		}
	}
	switch c := strings.ToLower(traceEnv("COMPRESSION")); c {
	case "", "none":
	case "gzip":
		e.gzip = true
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION %q is not gzip or none", c)
	}
	tlsConf, err := tlsFromEnv()
	if err != nil {
		return nil, err
	}
	e.client = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsConf,
		MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second}}
	e.resource = encodeResource(resource)
	go e.run()
	return e, nil
}

// enqueue hands an ended span to the batcher, or drops it when the queue is full or the exporter stopped.
func (e *exporter) enqueue(s *span) {
	select {
	case <-e.stop:
		return
	default:
	}
	select {
	case e.queue <- s:
	default:
		e.mu.Lock()
		e.dropped++
		e.mu.Unlock()
	}
}

func (e *exporter) run() {
	defer close(e.stopped)
	t := time.NewTimer(e.delay)
	defer t.Stop()
	batch := make([]*span, 0, e.maxBatch)
	send := func(ctx context.Context) {
		if len(batch) > 0 {
			e.export(ctx, batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case s := <-e.queue:
			if batch = append(batch, s); len(batch) >= e.maxBatch {
				send(context.Background())
			}
		case <-t.C:
			send(context.Background())
			t.Reset(e.delay)
		case done := <-e.flush:
			e.drain(&batch, send)
			close(done)
		case <-e.stop:
			e.drain(&batch, send)
			return
		}
	}
}

// drain exports everything queued so far.
func (e *exporter) drain(batch *[]*span, send func(context.Context)) {
	for {
		select {
		case s := <-e.queue:
			if *batch = append(*batch, s); len(*batch) >= e.maxBatch {
				send(context.Background())
			}
		default:
			send(context.Background())
			return
		}
	}
}

// shutdown exports what is queued, then stops; it gives up when ctx is done.
func (e *exporter) shutdown(ctx context.Context) error {
	e.stopOnce.Do(func() { close(e.stop) })
	select {
	case <-e.stopped:
		return nil
	case <-ctx.Done():
		e.client.CloseIdleConnections()
		return ctx.Err()
	}
}

// export posts one batch; failures are logged (the packets they describe were answered long ago).
func (e *exporter) export(ctx context.Context, batch []*span) {
	e.mu.Lock()
	dropped := e.dropped
	e.dropped = 0
	e.mu.Unlock()
	if dropped > 0 {
		e.log.Warn("trace spans dropped: the export queue was full", "spans", dropped)
	}
	body := encodeRequest(e.resource, batch)
	if err := e.post(ctx, body); err != nil {
		e.log.Warn("trace export failed", "endpoint", e.url, "spans", len(batch), "err", err)
	}
}

// retryable statuses, as the OTLP specification lists them for OTLP/HTTP.
func retryable(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// post sends body, retrying a retryable answer with backoff (5 s doubling to 30 s, honouring Retry-After)
// for at most a minute, and never past e.stop.
func (e *exporter) post(ctx context.Context, body []byte) error {
	if e.gzip {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = zb.Bytes()
	}
	giveUp := time.Now().Add(time.Minute)
	wait := 5 * time.Second
	for {
		code, after, err := e.postOnce(ctx, body)
		if err == nil {
			return nil
		}
		if !retryable(code) {
			return err
		}
		if after > 0 {
			wait = after
		}
		if time.Now().Add(wait).After(giveUp) {
			return fmt.Errorf("%w (gave up retrying after a minute)", err)
		}
		select {
		case <-time.After(wait):
		case <-e.stop:
			return err
		case <-ctx.Done():
			return err
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (e *exporter) postOnce(ctx context.Context, body []byte) (code int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	go func() { // shutdown stops a post in progress, as its deadline does
		select {
		case <-e.stop:
			select {
			case <-ctx.Done():
			case <-time.After(time.Second): // let the final flush have a moment
				cancel()
			}
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	for k, v := range e.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if e.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return http.StatusServiceUnavailable, 0, err // a collector that is down or restarting: retry
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, 0, nil
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retryAfter, fmt.Errorf("collector answered %s: %q", resp.Status, bytes.TrimSpace(msg))
}

// traceEnv reads OTEL_EXPORTER_OTLP_TRACES_<name>, else OTEL_EXPORTER_OTLP_<name>.
func traceEnv(name string) string {
	if v := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_" + name); v != "" {
		return v
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_" + name)
}

// parseHeaders adds "k1=v1,k2=v2" (values URL-encoded, as the specification says) to h.
func parseHeaders(s string, h http.Header) error {
	for _, kv := range strings.Split(s, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return errors.New("want key=value pairs separated by commas") // the value may be a secret: not echoed
		}
		u, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("the value of header %s is not URL-encoded", k)
		}
		h.Set(k, u)
	}
	return nil
}

// tlsFromEnv reads OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE (the collector's CA) and CLIENT_CERTIFICATE and
// CLIENT_KEY (for mutual TLS); nil when none is set.
func tlsFromEnv() (*tls.Config, error) {
	ca, cert, key := traceEnv("CERTIFICATE"), traceEnv("CLIENT_CERTIFICATE"), traceEnv("CLIENT_KEY")
	if ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("read the collector's CA certificate: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the collector's CA certificate %s holds no PEM certificate", ca)
		}
	}
	if cert != "" || key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate and key for the collector: %w", err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return conf, nil
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv(name))); err == nil && n > 0 {
		return n
	}
	return def
}

func envMillis(name string, def time.Duration) time.Duration {
	return time.Duration(envInt(name, int(def/time.Millisecond))) * time.Millisecond
}
