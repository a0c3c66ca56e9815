"""Fuzzing the whole pipeline: every input ends in a verdict or a clean error.

* :mod:`tests.fuzz.inputs` — the generators (Hypothesis strategies);
* :mod:`tests.fuzz.harness` — one input through ``check``, ``expand`` and
  ``trace`` in-process, and what counts as a failure;
* :mod:`tests.fuzz.test_fuzz` — the campaign in the test-suite (a short CI
  profile, and a ``slow`` one with many more examples);
* :mod:`tests.fuzz.campaign` — the standalone campaign:
  ``python -m tests.fuzz.campaign --n 100000 --seconds-per-input 10``.
"""
