package testcluster

import (
	"io"
	"net"
	"sync"
	"time"
)

// LinkProxy forwards TCP connections from one broker to another's Raft
// address. Cutting it closes its connections and refuses new ones, which is
// how Isolate partitions the cluster with dragonboat's real TCP transport:
// in registry mode every broker resolves peers from its own table, so each
// directed link can go through its own proxy. Process-level tests use it
// the same way, giving each `chronik start` its own --peers.
//
// A dial through the proxy fails as a dial to the target itself would: while
// the link is cut or the target is down (its process killed, or not yet
// listening after a restart) the proxy stops listening, so connections are
// refused rather than accepted and then closed. An accepted-then-closed
// connection looks alive to the dialler until it next writes to it, and the
// messages it then writes are lost; a real dead port never does that.
type LinkProxy struct {
	target string
	addr   string
	wake   chan struct{}

	mu     sync.Mutex
	ln     net.Listener // nil while not listening
	cut    bool
	down   bool // the last dial of the target failed
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// proxyRecheck is how often a proxy whose target is down dials it again.
const proxyRecheck = 20 * time.Millisecond

// NewLinkProxy listens on a free 127.0.0.1 port and forwards every
// connection to target.
func NewLinkProxy(target string) (*LinkProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &LinkProxy{ln: ln, target: target, addr: ln.Addr().String(), wake: make(chan struct{}, 1),
		conns: map[net.Conn]struct{}{}}
	p.wg.Add(2)
	go p.serve(ln)
	go p.run()
	return p, nil
}

// Addr is the address the proxy listens on.
func (p *LinkProxy) Addr() string { return p.addr }

func (p *LinkProxy) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run keeps the listener open exactly while the link is neither cut nor its
// target down, and dials a down target until it answers.
func (p *LinkProxy) run() {
	defer p.wg.Done()
	t := time.NewTicker(proxyRecheck)
	defer t.Stop()
	for {
		p.mu.Lock()
		if p.closed {
			p.stopListening()
			p.mu.Unlock()
			return
		}
		cut, down := p.cut, p.down
		switch {
		case cut || down:
			p.stopListening()
		case p.ln == nil:
			if ln, err := net.Listen("tcp", p.addr); err == nil { // else: the port is briefly taken; next tick
				p.ln = ln
				p.wg.Add(1)
				go p.serve(ln)
			}
		}
		p.mu.Unlock()
		if !cut && down {
			if c, err := net.DialTimeout("tcp", p.target, time.Second); err == nil {
				c.Close()
				p.mu.Lock()
				p.down = false
				p.mu.Unlock()
				continue
			}
		}
		select {
		case <-t.C:
		case <-p.wake:
		}
	}
}

// stopListening closes the listener; p.mu is held.
func (p *LinkProxy) stopListening() {
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

func (p *LinkProxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
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
			p.down = true
			p.stopListening()
			p.mu.Unlock()
			c.Close()
			p.poke()
			return
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
		p.stopListening()
		for c := range p.conns {
			c.Close()
		}
	}
	p.poke()
}

// Close stops the proxy and closes its connections.
func (p *LinkProxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.SetCut(true)
	p.wg.Wait()
}
