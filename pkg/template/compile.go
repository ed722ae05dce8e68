package template

import (
	"fmt"
	"strconv"
	"strings"
	"text/template/parse"
)

// compiler walks a parse tree once: it rewrites value references into calls
// of renderState.Value, refuses what templates may not do, follows the
// lexical state of the literal text and appends escaping functions.
type compiler struct {
	name  string
	src   string
	tree  *parse.Tree
	an    analyzer
	vars  map[string]bool
	loops []lexState // state at the start of each enclosing range
}

// at returns "line L, column C" for a byte offset of the source.
func (c *compiler) at(off int) string {
	if off > len(c.src) {
		off = len(c.src)
	}
	before := c.src[:off]
	line := 1 + strings.Count(before, "\n")
	col := off - strings.LastIndex(before, "\n")
	return fmt.Sprintf("line %d, column %d", line, col)
}

func (c *compiler) errorf(n parse.Node, format string, args ...any) error {
	return fmt.Errorf("%s: %s", c.at(int(n.Position())), fmt.Sprintf(format, args...))
}

// walkList follows list from state st; root says whether dot is the root
// (outside the bodies of with and range).
func (c *compiler) walkList(st lexState, list *parse.ListNode, root bool) (lexState, error) {
	if list == nil {
		return st, nil
	}
	for _, n := range list.Nodes {
		var err error
		st, err = c.walkNode(st, n, root)
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func (c *compiler) walkNode(st lexState, n parse.Node, root bool) (lexState, error) {
	switch n := n.(type) {
	case *parse.TextNode:
		base := int(n.Pos)
		// A trimmed text node ({{- or -}}) starts where its text is found.
		if i := strings.Index(c.src[min(base, len(c.src)):], string(n.Text)); i >= 0 {
			base += i
		}
		return c.an.text(st, string(n.Text), func(i int) string { return c.at(base + i) })
	case *parse.CommentNode:
		return st, nil
	case *parse.ActionNode:
		src := n.Pipe.String()
		if id, ok := loneIdentifier(n.Pipe); ok {
			// The seed syntax: a lone {{name}} is always the value name, even
			// when a function has that name (calling a function without
			// arguments as a whole action is never what the seed meant).
			n.Pipe.Cmds[0].Args[0] = c.valueRef(id, id.Ident)
		} else if err := c.rewritePipe(n.Pipe, root); err != nil {
			return st, err
		}
		if len(n.Pipe.Decl) > 0 {
			return st, nil // an assignment prints nothing
		}
		esc, next, err := c.an.action(st)
		if err != nil {
			return st, c.errorf(n, "{{%s}}: %v", src, err)
		}
		if esc != "" {
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos,
				Args: []parse.Node{
					parse.NewIdentifier(esc).SetTree(c.tree).SetPos(n.Pos),
					&parse.StringNode{NodeType: parse.NodeString, Pos: n.Pos, Quoted: strconv.Quote(src), Text: src},
				}})
		}
		return next, nil
	case *parse.IfNode:
		return c.walkBranch(st, &n.BranchNode, root, root, "if")
	case *parse.WithNode:
		return c.walkBranch(st, &n.BranchNode, false, root, "with")
	case *parse.RangeNode:
		if isNumberLiteral(n.Pipe) {
			return st, c.errorf(n, "range over an integer literal is not allowed")
		}
		c.loops = append(c.loops, st)
		defer func() { c.loops = c.loops[:len(c.loops)-1] }()
		if err := c.rewritePipe(n.Pipe, root); err != nil {
			return st, err
		}
		end, err := c.walkList(st, n.List, false)
		if err != nil {
			return st, err
		}
		if end != st {
			return st, c.errorf(n, "the body of range must end in the same %s context as it starts", c.ctxName())
		}
		if end, err = c.walkList(st, n.ElseList, root); err != nil {
			return st, err
		}
		if end != st {
			return st, c.errorf(n, "the else of range must end in the same %s context as it starts", c.ctxName())
		}
		// Count every iteration: {{$.Tick}} prints nothing.
		tick := &parse.ActionNode{NodeType: parse.NodeAction, Pos: n.Pos, Line: n.Line,
			Pipe: &parse.PipeNode{NodeType: parse.NodePipe, Pos: n.Pos, Line: n.Line,
				Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: n.Pos,
					Args: []parse.Node{&parse.VariableNode{NodeType: parse.NodeVariable, Pos: n.Pos, Ident: []string{"$", "Tick"}}}}}}}
		n.List.Nodes = append([]parse.Node{tick}, n.List.Nodes...)
		return st, nil
	case *parse.BreakNode, *parse.ContinueNode:
		if len(c.loops) > 0 && st != c.loops[len(c.loops)-1] {
			return st, c.errorf(n, "break and continue must be where the %s context is the same as at the start of range", c.ctxName())
		}
		return st, nil
	case *parse.TemplateNode:
		return st, c.errorf(n, "template is not allowed (no template calls or recursion)")
	}
	return st, c.errorf(n, "unexpected %s", n.String())
}

func (c *compiler) ctxName() string {
	switch c.an.(type) {
	case jsonAnalyzer:
		return "JSON"
	case urlAnalyzer:
		return "URL"
	}
	return "text"
}

// walkBranch follows an if or with: both branches must end in the same state.
func (c *compiler) walkBranch(st lexState, b *parse.BranchNode, bodyRoot, root bool, kw string) (lexState, error) {
	if err := c.rewritePipe(b.Pipe, root); err != nil {
		return st, err
	}
	then, err := c.walkList(st, b.List, bodyRoot)
	if err != nil {
		return st, err
	}
	els, err := c.walkList(st, b.ElseList, root)
	if err != nil {
		return st, err
	}
	if then != els {
		return st, c.errorf(b, "the branches of %s end in different %s contexts", kw, c.ctxName())
	}
	return then, nil
}

// loneIdentifier returns the identifier of an action that is just
// {{name}}, unless name is dropped or reserved (rewritePipe reports those).
func loneIdentifier(p *parse.PipeNode) (*parse.IdentifierNode, bool) {
	if len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return nil, false
	}
	id, ok := p.Cmds[0].Args[0].(*parse.IdentifierNode)
	if !ok {
		return nil, false
	}
	if _, bad := dropped[id.Ident]; bad || strings.HasPrefix(id.Ident, reservedPrefix) {
		return nil, false
	}
	return id, true
}

// isNumberLiteral reports whether p is just a number, maybe parenthesized.
func isNumberLiteral(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.NumberNode:
		return true
	case *parse.PipeNode:
		return isNumberLiteral(a)
	}
	return false
}

// rewritePipe rewrites the value references of p; root says whether dot is
// the root there.
func (c *compiler) rewritePipe(p *parse.PipeNode, root bool) error {
	if p == nil {
		return nil
	}
	for ci, cmd := range p.Cmds {
		for ai, arg := range cmd.Args {
			head := ai == 0
			called := head && len(cmd.Args) > 1 // would be called with arguments
			piped := head && ci > 0             // would receive the pipeline's value
			switch a := arg.(type) {
			case *parse.IdentifierNode:
				name := a.Ident
				if why, ok := dropped[name]; ok {
					return c.errorf(a, "function %q is not allowed: it %s", name, why)
				}
				if strings.HasPrefix(name, reservedPrefix) {
					return c.errorf(a, "names starting with %q are reserved", reservedPrefix)
				}
				if name == ParamFunc && head {
					// {{param "id"}}: the caller's parameter id, a value of
					// its own name space (ParamPrefix + id) that no setting
					// can share.
					lit, ok := (parse.Node)(nil), false
					if len(cmd.Args) == 2 {
						lit = cmd.Args[1]
						_, ok = lit.(*parse.StringNode)
					}
					if !ok {
						return c.errorf(a, "param takes one quoted parameter name: {{param \"id\"}}")
					}
					cmd.Args = []parse.Node{c.valueRef(a, ParamPrefix+lit.(*parse.StringNode).Text)}
					break
				}
				if isFunc(name) {
					if head && ci == 0 && len(cmd.Args) == 1 && needsArgs(name) {
						return c.errorf(a, "%q is a function and needs arguments; for the value named %s write {{.%s}}", name, name, name)
					}
					continue
				}
				if called || piped {
					return c.errorf(a, "function %q not defined", name)
				}
				cmd.Args[ai] = c.valueRef(a, name)
			case *parse.FieldNode:
				if !root {
					continue
				}
				if len(a.Ident) > 1 {
					return c.errorf(a, "values are strings: %s has no fields", a.String())
				}
				if called || piped {
					return c.errorf(a, "the value %s is not a function", a.String())
				}
				cmd.Args[ai] = c.valueRef(a, a.Ident[0])
			case *parse.VariableNode:
				if a.Ident[0] != "$" {
					continue
				}
				switch {
				case len(a.Ident) == 1:
					return c.errorf(a, "$ is not a value; write {{$.name}} or {{.name}}")
				case len(a.Ident) > 2:
					return c.errorf(a, "values are strings: %s has no fields", a.String())
				case called || piped:
					return c.errorf(a, "the value %s is not a function", a.String())
				}
				cmd.Args[ai] = c.valueRef(a, a.Ident[1])
			case *parse.DotNode:
				if root {
					return c.errorf(a, "{{.}} is not a value at the top level; write {{.name}}")
				}
			case *parse.PipeNode:
				if err := c.rewritePipe(a, root); err != nil {
					return err
				}
			case *parse.ChainNode:
				if pn, ok := a.Node.(*parse.PipeNode); ok {
					if err := c.rewritePipe(pn, root); err != nil {
						return err
					}
				} else if _, ok := a.Node.(*parse.DotNode); ok && root {
					return c.errorf(a, "values are strings and have no fields")
				}
			}
		}
	}
	return nil
}

// valueRef returns ($.Value "name") and records name.
func (c *compiler) valueRef(at parse.Node, name string) parse.Node {
	c.vars[name] = true
	pos := at.Position()
	return &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{{
		NodeType: parse.NodeCommand, Pos: pos,
		Args: []parse.Node{
			&parse.VariableNode{NodeType: parse.NodeVariable, Pos: pos, Ident: []string{"$", "Value"}},
			&parse.StringNode{NodeType: parse.NodeString, Pos: pos, Quoted: strconv.Quote(name), Text: name},
		},
	}}}
}
