package portal

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// response is a rendered public response.
type response struct {
	status int
	ctype  string
	body   []byte
	gz     []byte // gzip of body, made on first request that accepts it
	vary   string
}

// pageCache keeps rendered responses of the current index generation, least
// recently used out first. A sync landing changes the generation, so every
// entry is stale at once without any invalidation walk.
type pageCache struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	key string
	gen int64
	res *response
}

func newPageCache(max int) *pageCache {
	return &pageCache{max: max, order: list.New(), items: make(map[string]*list.Element)}
}

func (c *pageCache) get(key string, gen int64) *response {
	if c.max <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if e.gen != gen {
		c.evict(el)
		return nil
	}
	c.order.MoveToFront(el)
	return e.res
}

func (c *pageCache) put(key string, gen int64, res *response) {
	if c.max <= 0 || len(res.body) > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.evict(el)
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key: key, gen: gen, res: res})
	c.size += len(key) + 2*len(res.body)
	for c.size > c.max {
		c.evict(c.order.Back())
	}
}

func (c *pageCache) evict(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.order.Remove(el)
	delete(c.items, e.key)
	c.size -= len(e.key) + 2*len(e.res.body)
}

// indexTag identifies the index's state. gen counts this index's own
// commits and keys its caches; cursor and due say what content it holds,
// the same on every holder (the hub and each mirror) that has indexed the
// same changes by the same time, however many batches that took, so ETags
// and Last-Modified are functions of the content only and a load balancer
// may send a visitor's revalidation to any holder.
type indexTag struct {
	gen    int64
	cursor int64 // the last hub_seq indexed
	// due is the latest publish_at (unix ms) of a shown entity: an entity
	// falling due changes what is shown without moving the cursor.
	due int64
	// modified is Last-Modified (unix ms): the latest of the hub's times of
	// receipt of the changes indexed and of due.
	modified int64
}

// readTag reads the content half of the index's tag in q, the transaction
// that writes it or the database.
func readTag(ctx context.Context, q querier, gen, cursor, appliedAt int64) (indexTag, error) {
	var due int64
	// The condition lets SQLite read the answer off the end of the partial
	// index entities_publish_at instead of scanning every entity's row.
	rows, err := q.QueryContext(ctx, `SELECT COALESCE(MAX(publish_at), 0) FROM entities WHERE publish_at IS NOT NULL`)
	if err != nil {
		return indexTag{}, fmt.Errorf("read index tag: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&due); err != nil {
			return indexTag{}, fmt.Errorf("read index tag: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return indexTag{}, fmt.Errorf("read index tag: %w", err)
	}
	return indexTag{gen: gen, cursor: cursor, due: due, modified: max(appliedAt, due)}, nil
}

// lastModified is when the index's content last changed.
func (p *Portal) lastModified() time.Time {
	return time.UnixMilli(p.tag.Load().modified).UTC()
}

// etag names a response variant of the index's content: the same key over
// the same content is the same bytes (before content coding, hence weak).
func etag(t *indexTag, key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	b := make([]byte, 0, 64)
	b = append(b, `W/"`...)
	b = strconv.AppendInt(b, t.cursor, 36)
	b = append(b, '.')
	b = strconv.AppendInt(b, t.due, 36)
	b = append(b, '-')
	b = strconv.AppendUint(b, h.Sum64(), 36)
	return string(append(b, '"'))
}

// respond serves a public GET: conditional requests first (no rendering at
// all when the visitor's copy is current), then the page cache, then render.
// key identifies the variant: everything the response depends on.
// A request with Cache-Control: no-cache is rendered afresh.
func (p *Portal) respond(w http.ResponseWriter, r *http.Request, key string, render func() (*response, error)) {
	st := p.tag.Load()
	gen := st.gen
	tag := etag(st, key)
	modified := time.UnixMilli(st.modified).UTC()
	h := w.Header()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if notModified(r, tag, modified) {
			p.cacheHeaders(h, tag, modified)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	noCache := strings.Contains(r.Header.Get("Cache-Control"), "no-cache")
	var res *response
	if !noCache {
		res = p.cache.get(key, gen)
	}
	if res == nil {
		var err error
		res, err = render()
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		if res.status == 0 {
			res.status = http.StatusOK
		}
		if res.status == http.StatusOK {
			p.cache.put(key, gen, res)
		}
	}
	if res.status == http.StatusOK {
		p.cacheHeaders(h, tag, modified)
	} else {
		h.Set("Cache-Control", "no-store")
	}
	p.write(w, r, res)
}

func (p *Portal) cacheHeaders(h http.Header, tag string, modified time.Time) {
	h.Set("ETag", tag)
	if !modified.IsZero() && modified.Unix() > 0 {
		h.Set("Last-Modified", modified.Format(http.TimeFormat))
	}
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(p.cfg.MaxAge/time.Second)))
}

// write sends res, gzipped when the client takes it and it is worth it.
func (p *Portal) write(w http.ResponseWriter, r *http.Request, res *response) {
	h := w.Header()
	h.Set("Content-Type", res.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	vary := "Accept-Encoding"
	if res.vary != "" {
		vary = res.vary + ", Accept-Encoding"
	}
	h.Set("Vary", vary)
	body := res.body
	if len(body) > 1024 && acceptsGzip(r) {
		if res.gz == nil {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
			zw.Write(body)
			zw.Close()
			res.gz = buf.Bytes()
		}
		body = res.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(res.status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// notModified applies If-None-Match, or else If-Modified-Since (RFC 9110).
func notModified(r *http.Request, tag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(tag, "W/") {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && modified.Unix() > 0 {
		t, err := http.ParseTime(ims)
		return err == nil && !modified.Truncate(time.Second).After(t)
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			params = strings.ReplaceAll(params, " ", "")
			return !strings.HasPrefix(params, "q=0") || strings.Trim(strings.TrimPrefix(params, "q=0"), ".0") != ""
		}
	}
	return false
}
