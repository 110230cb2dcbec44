from notes.store import NoteStore


def test_create_and_titles():
    store = NoteStore()
    store.create("b")
    store.create("a")
    assert store.titles() == ["a", "b"]


def test_explicit_tags():
    store = NoteStore()
    n = store.create("x", tags=["Home"])
    store.tag(n.id, " Work ")
    assert n.tags == ["Home", "work"]


def test_tag_is_idempotent():
    store = NoteStore()
    n = store.create("x", tags=[])
    store.tag(n.id, "a")
    store.tag(n.id, "A")
    assert n.tags == ["a"]
