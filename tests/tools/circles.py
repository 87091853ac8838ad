"""circles(nodes, edges): the circles of a directed graph, each a sorted
list of its nodes (Tarjan's strongly connected components of more than
one node).  edges(v) gives v's successors.  Shared by include-cycles.py
and call-cycles.py."""
import sys


def circles(nodes, edges):
    index, low, on, stack, found, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return found
