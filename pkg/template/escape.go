package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"text/template/parse"
)

type jsonState int

const (
	jsonOutside jsonState = iota
	jsonString
	jsonEscape
)

type urlState int

const (
	urlScheme urlState = iota
	urlAuthority
	urlPort
	urlPath
	urlQuery
	urlFragment
)

// state is where the output stands after the text seen so far.
type state struct {
	json jsonState
	url  urlState
}

func startState(Context) state { return state{} }

// walker gives every output action of a parse tree the escaper of its
// context, and collects the names of the values the template refers to.
type walker struct {
	ctx  Context
	vars map[string]bool
}

func (w *walker) list(l *parse.ListNode, st state) (state, error) {
	if l == nil {
		return st, nil
	}
	for _, n := range l.Nodes {
		var err error
		switch n := n.(type) {
		case *parse.TextNode:
			st, err = w.text(string(n.Text), st)
		case *parse.ActionNode:
			w.collect(n.Pipe)
			if len(n.Pipe.Decl) == 0 { // an action that declares a variable writes nothing
				err = w.escape(n, st)
			}
		case *parse.IfNode:
			st, err = w.branch(&n.BranchNode, st)
		case *parse.WithNode:
			st, err = w.branch(&n.BranchNode, st)
		case *parse.RangeNode:
			err = errors.New("range is not allowed in a template: use join, splitList or the other list functions")
		case *parse.TemplateNode:
			err = errors.New("template and block are not allowed")
		case *parse.CommentNode:
		default:
			err = fmt.Errorf("%s is not allowed here", n)
		}
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func (w *walker) branch(b *parse.BranchNode, st state) (state, error) {
	w.collect(b.Pipe)
	s1, err := w.list(b.List, st)
	if err != nil {
		return st, err
	}
	s2, err := w.list(b.ElseList, st)
	if err != nil {
		return st, err
	}
	if s1 != s2 {
		return st, fmt.Errorf("the branches of %q end in different places of the %s", "{{"+b.Pipe.String()+"}}", w.ctx)
	}
	return s1, nil
}

func (w *walker) text(s string, st state) (state, error) {
	switch w.ctx {
	case JSONBody:
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch st.json {
			case jsonOutside:
				if c == '"' {
					st.json = jsonString
				}
			case jsonString:
				switch c {
				case '\\':
					st.json = jsonEscape
				case '"':
					st.json = jsonOutside
				}
			case jsonEscape:
				st.json = jsonString
			}
		}
	case URL:
		if st.url == urlScheme {
			i := strings.Index(s, "://")
			if i < 0 {
				return st, nil
			}
			st.url = urlAuthority
			s = s[i+3:]
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '@' && (st.url == urlAuthority || st.url == urlPort):
				return st, errors.New("a URL must not hold user info ('@' before the path)")
			case c == ':' && st.url == urlAuthority:
				st.url = urlPort
			case c == '/' && (st.url == urlAuthority || st.url == urlPort):
				st.url = urlPath
			case c == '?' && st.url <= urlPath:
				st.url = urlQuery
			case c == '#' && st.url <= urlQuery:
				st.url = urlFragment
			}
		}
	case Header:
		if strings.ContainsAny(s, "\r\n\x00") {
			return st, errors.New("a header value cannot hold a line break or NUL")
		}
	}
	return st, nil
}

// escape appends the escaper of st to the action's pipeline, with the
// action's source as its first argument so errors can name the place.
func (w *walker) escape(n *parse.ActionNode, st state) error {
	var fn string
	switch w.ctx {
	case JSONBody:
		switch st.json {
		case jsonOutside:
			fn = "_lkJSONValue"
		case jsonString:
			fn = "_lkJSONString"
		default:
			return fmt.Errorf("%s follows a backslash inside a JSON string", n)
		}
	case URL:
		switch st.url {
		case urlScheme:
			return fmt.Errorf("%s stands in the URL's scheme: write the scheme and host in the template; values may fill host labels, path segments and query values", n)
		case urlAuthority:
			fn = "_lkHost"
		case urlPort:
			fn = "_lkPort"
		case urlPath:
			fn = "_lkPath"
		default:
			fn = "_lkQuery"
		}
	case Header:
		fn = "_lkHeader"
	default:
		fn = "_lkText"
	}
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos, Args: []parse.Node{
		&parse.IdentifierNode{NodeType: parse.NodeIdentifier, Ident: fn, Pos: n.Pos},
		&parse.StringNode{NodeType: parse.NodeString, Quoted: fmt.Sprintf("%q", n.String()), Text: n.String(), Pos: n.Pos},
	}}
	n.Pipe.Cmds = append(n.Pipe.Cmds, cmd)
	return nil
}

// collect records the values a pipeline refers to: .name and $.name.
func (w *walker) collect(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			w.node(a)
		}
	}
}

func (w *walker) node(n parse.Node) {
	switch n := n.(type) {
	case *parse.FieldNode:
		w.vars[n.Ident[0]] = true
	case *parse.VariableNode:
		if n.Ident[0] == "$" && len(n.Ident) > 1 {
			w.vars[n.Ident[1]] = true
		}
	case *parse.ChainNode:
		w.node(n.Node)
	case *parse.PipeNode:
		w.collect(n)
	}
}

var hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
var portRE = regexp.MustCompile(`^[0-9]{1,5}$`)

// escapers are the functions the walker appends; their names cannot be
// written in a template by mistake because they are not documented.
var escapers = map[string]any{
	"_lkJSONValue": func(at string, v any) (string, error) {
		switch v.(type) {
		case nil:
			return "null", nil
		case string:
			b, _ := json.Marshal(v)
			return string(b), nil
		}
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			b, err := json.Marshal(v)
			if err != nil {
				return "", &valueError{msg: at + " is not a finite number"}
			}
			return string(b), nil
		case reflect.Slice, reflect.Map, reflect.Array:
			b, err := json.Marshal(v)
			if err != nil {
				return "", &valueError{msg: at + " cannot be written as JSON"}
			}
			return string(b), nil
		}
		b, _ := json.Marshal(fmt.Sprint(v))
		return string(b), nil
	},
	"_lkJSONString": func(at string, v any) (string, error) {
		b, _ := json.Marshal(toString(v))
		return string(b[1 : len(b)-1]), nil
	},
	"_lkHost": func(at string, v any) (string, error) {
		s := toString(v)
		if !hostLabelRE.MatchString(s) {
			return "", &valueError{msg: "the value of " + at + " cannot stand in the URL's host: it must be one host label (letters, digits and '-', at most 63)"}
		}
		return s, nil
	},
	"_lkPort": func(at string, v any) (string, error) {
		s := toString(v)
		if !portRE.MatchString(s) {
			return "", &valueError{msg: "the value of " + at + " is not a port number"}
		}
		return s, nil
	},
	"_lkPath": func(at string, v any) (string, error) {
		return url.PathEscape(toString(v)), nil
	},
	"_lkQuery": func(at string, v any) (string, error) {
		return url.QueryEscape(toString(v)), nil
	},
	"_lkHeader": func(at string, v any) (string, error) {
		s := toString(v)
		if strings.ContainsAny(s, "\r\n\x00") {
			return "", &valueError{msg: "the value of " + at + " holds a line break or NUL, which a header cannot"}
		}
		return s, nil
	},
	"_lkText": func(at string, v any) (string, error) {
		s := toString(v)
		if strings.ContainsAny(s, "\r\n\x00") {
			return "", &valueError{msg: "the value of " + at + " holds a line break or NUL"}
		}
		return s, nil
	},
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
