package testcluster

import (
	"io"
	"net"
	"sync"
)

// LinkProxy forwards TCP connections from one broker to another's Raft
// address. Cutting it closes its connections and refuses new ones, which is
// how Isolate partitions the cluster with dragonboat's real TCP transport:
// in registry mode every broker resolves peers from its own table, so each
// directed link can go through its own proxy. Process-level tests use it
// the same way, giving each `chronik start` its own --peers.
type LinkProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewLinkProxy listens on a free 127.0.0.1 port and forwards every
// connection to target.
func NewLinkProxy(target string) (*LinkProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &LinkProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the address the proxy listens on.
func (p *LinkProxy) Addr() string { return p.ln.Addr().String() }

func (p *LinkProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// SetCut cuts (true) or restores (false) the link.
func (p *LinkProxy) SetCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

// Close stops the proxy and closes its connections.
func (p *LinkProxy) Close() {
	p.ln.Close()
	p.SetCut(true)
	p.wg.Wait()
}
