# id: dijkstra_shortest_path
# title: Dijkstra's shortest paths with a heap
# topic: algorithms
# tags: graph, shortest path, dijkstra, heapq, priority queue
import heapq


def shortest_distances(graph: dict[str, dict[str, float]], source: str) -> dict[str, float]:
    """Distance from ``source`` to every reachable node; edge weights must be >= 0."""
    distances = {source: 0.0}
    heap = [(0.0, source)]
    while heap:
        distance, node = heapq.heappop(heap)
        if distance > distances.get(node, float("inf")):
            continue  # a stale entry: a shorter path was found already
        for neighbour, weight in graph.get(node, {}).items():
            candidate = distance + weight
            if candidate < distances.get(neighbour, float("inf")):
                distances[neighbour] = candidate
                heapq.heappush(heap, (candidate, neighbour))
    return distances


if __name__ == "__main__":
    g = {"a": {"b": 1, "c": 4}, "b": {"c": 2, "d": 5}, "c": {"d": 1}, "d": {}}
    assert shortest_distances(g, "a") == {"a": 0, "b": 1, "c": 3, "d": 4}
    assert shortest_distances(g, "d") == {"d": 0}
