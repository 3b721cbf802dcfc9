"""SDK verification: any client of the API, in any language, judged against the emulator.

``scenarios`` (named emulator configurations and the tasks an application performs in each),
``recorder`` (WSGI middleware that records every raw request and shapes responses), ``judge``
(the request judge and the result judge), ``runner`` (runs a driver once per task), ``source``
(the engine's source: results, causes, sdk.html's data), ``known`` (``--known`` baselines) and
``killmatrix`` (the reference client's faults).
"""
