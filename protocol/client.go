package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
)

// ClientConfig configures a sync API client.
type ClientConfig struct {
	// BaseURL is the hub's address, e.g. https://hub.betterinternetforkids.eu.
	BaseURL string
	// Credential is the node's API credential from enrolment ("<node>.<secret>").
	Credential string
	// Timeout bounds one request; long-polls add their wait to it.
	Timeout time.Duration
	// Retries is how many times a failed request is retried, with exponential
	// backoff and jitter between RetryWait and RetryMaxWait.
	Retries      int
	RetryWait    time.Duration
	RetryMaxWait time.Duration
	UserAgent    string
	// Transport overrides the HTTP transport, for tests.
	Transport http.RoundTripper
	// Logger receives the client's retry attempts, at debug level: the
	// caller reports the error that ends a request. nil means slog.Default().
	Logger *slog.Logger
	// Clock is the local clock the hub's time is measured against (see
	// HubClock); nil means time.Now.
	Clock func() time.Time
}

// DefaultClientConfig returns the settings nodes use unless configured otherwise.
func DefaultClientConfig(baseURL string) ClientConfig {
	return ClientConfig{
		BaseURL:      baseURL,
		Timeout:      60 * time.Second,
		Retries:      4,
		RetryWait:    250 * time.Millisecond,
		RetryMaxWait: 10 * time.Second,
		UserAgent:    "bikfed/1",
	}
}

// Client calls the hub's sync API. Every call is idempotent on the hub, so
// retrying after a timeout or a 5xx is always safe.
type Client struct {
	cfg ClientConfig
	r   *resty.Client
	// feed reads the changes feed. It has no client-wide timeout: an
	// http.Client timeout shorter than the wait would cut every long-poll
	// short, so each feed request gets its own deadline of Timeout+wait.
	feed *resty.Client
	// clock is the hub's clock as the latest answer told it.
	clock *hubClock
}

// NewClient returns a client for the hub at cfg.BaseURL.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	clock := &hubClock{now: cfg.Clock}
	r := configure(resty.New(), cfg).SetTimeout(cfg.Timeout)
	timed(r, clock)
	feed := configure(resty.NewWithClient(&http.Client{Transport: r.GetClient().Transport}), cfg).
		AddRetryHook(releaseBody)
	timed(feed, clock)
	return &Client{cfg: cfg, r: r, feed: feed, clock: clock}
}

// timed makes r's transport read the hub's clock from every answer.
func timed(r *resty.Client, clock *hubClock) {
	if _, ok := r.GetClient().Transport.(*clockTransport); ok {
		return
	}
	r.SetTransport(&clockTransport{next: r.GetClient().Transport, clock: clock})
}

// clockTransport measures the hub's clock on every answer, whichever call
// made the request.
type clockTransport struct {
	next  http.RoundTripper
	clock *hubClock
}

func (t *clockTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err == nil {
		t.clock.observe(resp.Header, t.clock.now())
	}
	return resp, err
}

// HubClock returns the hub's clock relative to the local one, as measured
// from the latest answer; its MeasuredAt is zero before the first.
func (c *Client) HubClock() ClockOffset { return c.clock.get() }

func configure(r *resty.Client, cfg ClientConfig) *resty.Client {
	r.SetBaseURL(cfg.BaseURL).
		SetRetryCount(cfg.Retries).
		SetRetryWaitTime(cfg.RetryWait).
		SetRetryMaxWaitTime(cfg.RetryMaxWait).
		SetHeader("User-Agent", cfg.UserAgent).
		SetHeader("Accept", "application/json").
		AddRetryCondition(retryable).
		SetRetryAfter(retryAfter).
		SetLogger(restyLog{cfg.Logger})
	if cfg.Transport != nil {
		r.SetTransport(cfg.Transport)
	}
	if cfg.Credential != "" {
		r.SetAuthToken(cfg.Credential)
	}
	return r
}

// restyLog passes resty's messages to slog at debug level. Resty would
// print every retry and every cancelled request to standard error itself.
type restyLog struct{ l *slog.Logger }

func (r restyLog) log(format string, v ...any) {
	l := r.l
	if l == nil {
		l = slog.Default()
	}
	if l.Enabled(context.Background(), slog.LevelDebug) {
		l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "sync client")
	}
}

func (r restyLog) Errorf(format string, v ...any) { r.log(format, v...) }
func (r restyLog) Warnf(format string, v ...any)  { r.log(format, v...) }
func (r restyLog) Debugf(format string, v ...any) { r.log(format, v...) }

// releaseBody frees the connection of a feed response that is about to be
// retried: feed bodies are streamed, so resty leaves them open. The start of
// the body is kept for the error message, in case this was the last attempt.
func releaseBody(resp *resty.Response, _ error) {
	if resp == nil || resp.RawResponse == nil || resp.RawResponse.Body == nil {
		return
	}
	b, _ := io.ReadAll(io.LimitReader(resp.RawResponse.Body, 64<<10))
	resp.RawResponse.Body.Close()
	resp.RawResponse.Body = io.NopCloser(bytes.NewReader(b))
}

// retryAfter waits as long as a 429 or 503's Retry-After asks (in seconds;
// resty caps it at RetryMaxWait); 0 leaves the wait to the backoff.
func retryAfter(_ *resty.Client, resp *resty.Response) (time.Duration, error) {
	if resp == nil || resp.RawResponse == nil {
		return 0, nil
	}
	if s := resp.StatusCode(); s != http.StatusTooManyRequests && s != http.StatusServiceUnavailable {
		return 0, nil
	}
	secs, err := strconv.Atoi(strings.TrimSpace(resp.Header().Get("Retry-After")))
	if err != nil || secs <= 0 {
		return 0, nil
	}
	return time.Duration(min(secs, 3600)) * time.Second, nil
}

// retryable retries network failures, 5xx and 429, never other 4xx: a refusal
// will not change by asking again.
func retryable(resp *resty.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	s := resp.StatusCode()
	return s == http.StatusTooManyRequests || s >= 500
}

// BaseURL returns the hub address this client talks to.
func (c *Client) BaseURL() string { return c.cfg.BaseURL }

// Enrol binds the node's key with a one-time token and returns its credential.
func (c *Client) Enrol(ctx context.Context, req EnrolRequest) (*EnrolResponse, error) {
	var out EnrolResponse
	if err := c.do(ctx, http.MethodPost, PathEnrol, nil, req, &out); err != nil {
		return nil, fmt.Errorf("enrol %s: %w", req.Node, err)
	}
	return &out, nil
}

// Push sends one batch, compressed as CompressPush does.
func (c *Client) Push(ctx context.Context, h PushHeader, changes []Signed) (*PushResult, error) {
	var buf bytes.Buffer
	if err := CompressPush(&buf, h, changes); err != nil {
		return nil, err
	}
	var out PushResult
	resp, err := c.r.R().
		SetContext(ctx).
		SetHeader("Content-Type", ContentTypeNDJSON).
		SetHeader("Content-Encoding", PushEncoding).
		SetBody(buf.Bytes()).
		Post(PathPush)
	if err := decodeResponse(resp, err, &out); err != nil {
		return nil, fmt.Errorf("push %s seq %d-%d: %w", h.Node, h.FromSeq, h.ToSeq, err)
	}
	return &out, nil
}

// Changes reads one page of the changes feed after cursor since. With wait > 0
// the hub holds the request until a change arrives or wait passes.
func (c *Client) Changes(ctx context.Context, since int64, limit int, wait time.Duration) (*Feed, error) {
	return c.ChangesAfter(ctx, FeedQuery{Since: since, Limit: limit, Wait: wait})
}

// FeedQuery is a request for one page of the changes feed.
type FeedQuery struct {
	Since int64
	Limit int
	Wait  time.Duration
	// Incarnation is the hub incarnation the cursor was obtained from; the
	// hub answers whether its database still holds that history.
	Incarnation string
}

// ChangesAfter reads one page of the changes feed as q asks.
func (c *Client) ChangesAfter(ctx context.Context, fq FeedQuery) (*Feed, error) {
	var feed Feed
	err := c.getFeed(ctx, fq.values(), fq.Since, fq.Wait, func(body io.Reader, h http.Header) error {
		if err := feed.readHeaders(h); err != nil {
			return err
		}
		return decodeFeed(body, &feed)
	})
	if err != nil {
		return nil, err
	}
	return &feed, nil
}

// values is the query string of fq.
func (fq FeedQuery) values() url.Values {
	q := url.Values{"since": {strconv.FormatInt(fq.Since, 10)}}
	if fq.Limit > 0 {
		q.Set("limit", strconv.Itoa(fq.Limit))
	}
	if fq.Wait > 0 {
		q.Set("wait", fq.Wait.String())
	}
	if fq.Incarnation != "" {
		q.Set("incarnation", fq.Incarnation)
	}
	return q
}

// getFeed reads one page of the changes feed with query q and hands its
// body, bounded to the largest page, to decode.
func (c *Client) getFeed(ctx context.Context, q url.Values, since int64, wait time.Duration, decode func(io.Reader, http.Header) error) error {
	if c.cfg.Timeout > 0 {
		// A deadline longer than the hub's wait keeps a long-poll from being
		// cut short by the client's own timeout.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout+wait)
		defer cancel()
	}
	resp, err := c.feed.R().SetContext(ctx).SetQueryParamsFromValues(q).SetDoNotParseResponse(true).Get(PathChanges)
	if err != nil {
		return fmt.Errorf("changes since %d: %w", since, err)
	}
	body := resp.RawBody()
	defer body.Close()
	if resp.StatusCode() >= 300 {
		b, _ := io.ReadAll(io.LimitReader(body, 64<<10))
		return fmt.Errorf("changes since %d: %w", since, decodeError(resp.StatusCode(), b))
	}
	if err := decode(io.LimitReader(body, MaxFeedPage*(MaxChangeBytes+1024)+1<<20), resp.Header()); err != nil {
		return fmt.Errorf("changes since %d: decode feed: %w", since, err)
	}
	return nil
}

// readHeaders takes the feed members the hub sends as headers.
func (f *Feed) readHeaders(h http.Header) error {
	if v := h.Get(HeaderIncarnation); v != "" {
		if !validIncarnation(v) {
			return fmt.Errorf("%s %q: %w", HeaderIncarnation, v, ErrBadHubHeader)
		}
		f.Incarnation = v
	}
	if v := h.Get(HeaderLineageSeq); v != "" {
		n, err := parseLineageSeq(v)
		if err != nil {
			return fmt.Errorf("%s %q: %w", HeaderLineageSeq, v, err)
		}
		f.LineageSeq = &n
	}
	return nil
}

// Keys returns the hub's key directory.
func (c *Client) Keys(ctx context.Context) (*KeyDirectory, error) {
	var out KeyDirectory
	if err := c.do(ctx, http.MethodGet, PathKeys, nil, nil, &out); err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	return &out, nil
}

// Manifest returns the hub's per-owner digests; with owner set, also the
// entries of that owner.
func (c *Client) Manifest(ctx context.Context, owner string) (*Manifest, error) {
	var q url.Values
	if owner != "" {
		q = url.Values{"owner": {owner}}
	}
	var out Manifest
	if err := c.do(ctx, http.MethodGet, PathManifest, q, nil, &out); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &out, nil
}

// Status returns the hub's status of the calling node (or, with an operator
// credential, of the whole network).
func (c *Client) Status(ctx context.Context) (*NetworkStatus, error) {
	var out NetworkStatus
	if err := c.do(ctx, http.MethodGet, PathStatus, nil, nil, &out); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return &out, nil
}

// AckErasures tells the hub that the erasures with these hub_seqs are
// applied and durably purged on this node. At most MaxErasureAcks at once.
func (c *Client) AckErasures(ctx context.Context, hubSeqs []int64) (*ErasureAckResult, error) {
	var out ErasureAckResult
	if err := c.do(ctx, http.MethodPost, PathErasureAck, nil, ErasureAck{HubSeqs: hubSeqs}, &out); err != nil {
		return nil, fmt.Errorf("acknowledge erasures: %w", err)
	}
	return &out, nil
}

// ErasureStatus asks the hub how far the erasures of this node's entities
// have got, labelling them as one group (see ErasureStatusRequest).
func (c *Client) ErasureStatus(ctx context.Context, req ErasureStatusRequest) (*ErasureStatusResult, error) {
	var out ErasureStatusResult
	if err := c.do(ctx, http.MethodPost, PathErasureStatus, nil, req, &out); err != nil {
		return nil, fmt.Errorf("erasure status: %w", err)
	}
	return &out, nil
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	req := c.r.R().SetContext(ctx)
	if q != nil {
		req.SetQueryParamsFromValues(q)
	}
	if in != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(in)
	}
	resp, err := req.Execute(method, path)
	return decodeResponse(resp, err, out)
}

// decodeResponse decodes a success body into out, whatever Content-Type the
// response claims: resty would silently leave out empty for a body it does not
// recognise as JSON, and an empty PushResult reads as "nothing applied".
func decodeResponse(resp *resty.Response, err error, out any) error {
	if err != nil {
		return err
	}
	if !resp.IsSuccess() {
		return decodeError(resp.StatusCode(), resp.Body())
	}
	if err := json.Unmarshal(resp.Body(), out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// decodeError turns an error response into a *Error, keeping the hub's code so
// errors.Is works on this side of the network.
func decodeError(status int, body []byte) error {
	var er ErrorResponse
	if json.Unmarshal(body, &er) == nil && er.Error != nil && er.Error.Code != "" {
		return er.Error
	}
	return &Error{Code: CodeForStatus(status), Message: fmt.Sprintf("HTTP %d", status)}
}
