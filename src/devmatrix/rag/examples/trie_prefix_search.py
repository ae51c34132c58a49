# id: trie_prefix_search
# title: Trie for prefix search and autocomplete
# topic: data_structures
# tags: trie, prefix tree, autocomplete, strings
class Trie:
    def __init__(self) -> None:
        self.children: dict[str, Trie] = {}
        self.is_word = False

    def insert(self, word: str) -> None:
        node = self
        for char in word:
            node = node.children.setdefault(char, Trie())
        node.is_word = True

    def words_with_prefix(self, prefix: str) -> list[str]:
        node = self
        for char in prefix:
            if char not in node.children:
                return []
            node = node.children[char]
        found: list[str] = []
        stack = [(node, prefix)]
        while stack:
            current, word = stack.pop()
            if current.is_word:
                found.append(word)
            stack.extend((child, word + c) for c, child in current.children.items())
        return sorted(found)


if __name__ == "__main__":
    trie = Trie()
    for w in ["car", "cart", "care", "dog"]:
        trie.insert(w)
    assert trie.words_with_prefix("car") == ["car", "care", "cart"]
    assert trie.words_with_prefix("x") == [] and trie.words_with_prefix("") == ["car", "care", "cart", "dog"]
