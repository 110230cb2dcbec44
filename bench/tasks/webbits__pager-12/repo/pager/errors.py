class PageOutOfRange(IndexError):
    pass
