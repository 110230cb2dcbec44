from .note import Note


class NoteStore:
    def __init__(self):
        self._notes = {}

    def create(self, title, body="", tags=None):
        note = Note(title, body) if tags is None else Note(title, body, list(tags))
        self._notes[note.id] = note
        return note

    def tag(self, note_id, tag):
        self._notes[note_id].add_tag(tag)

    def find_by_tag(self, tag):
        return [n for n in self._notes.values() if tag.lower() in n.tags]

    def titles(self):
        return sorted(n.title for n in self._notes.values())
