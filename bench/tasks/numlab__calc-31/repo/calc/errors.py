class CalcSyntaxError(Exception):
    pass
