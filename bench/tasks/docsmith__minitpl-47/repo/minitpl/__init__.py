"""minitpl: a tiny {{ name|filter }} template renderer."""
