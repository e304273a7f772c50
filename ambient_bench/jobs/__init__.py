"""The job graph of a run: the plan (what a suite config implies and where each output lives),
the job functions (cached by their keyed outputs), the executors that run them, provenance.
"""
