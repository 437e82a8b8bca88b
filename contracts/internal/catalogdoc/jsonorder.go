package catalogdoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// node is a JSON value that keeps the order of object members, so the
// fields of a generated struct follow the order of the schema's
// properties.
type node struct {
	keys []string         // object members in document order
	obj  map[string]*node // nil unless an object
	arr  []*node          // an array's elements (isArr)
	val  any              // a scalar: string, json.Number, bool or nil

	isArr bool
	read  bool // the generator looked at this schema's x-go-* keys
}

func parseOrdered(raw []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := parseNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the top-level value")
	}
	return n, nil
}

func parseNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		n := &node{obj: map[string]*node{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k := kt.(string)
			v, err := parseNode(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := n.obj[k]; !dup {
				n.keys = append(n.keys, k)
			}
			n.obj[k] = v
		}
		_, err := dec.Token()
		return n, err
	case json.Delim('['):
		n := &node{isArr: true}
		for dec.More() {
			v, err := parseNode(dec)
			if err != nil {
				return nil, err
			}
			n.arr = append(n.arr, v)
		}
		_, err := dec.Token()
		return n, err
	}
	return &node{val: tok}, nil
}

// get returns member k of an object, or nil.
func (n *node) get(k string) *node {
	if n == nil || n.obj == nil {
		return nil
	}
	return n.obj[k]
}

// str returns member k when it is a string.
func (n *node) str(k string) (string, bool) {
	v := n.get(k)
	if v == nil {
		return "", false
	}
	s, ok := v.val.(string)
	return s, ok
}
