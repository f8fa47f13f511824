"""Checkers that grade a reader's function against the reference.

Usage in a chapter::

    from gancourse import exercises
    exercises.check("04.transposed_output_size", my_function)

:func:`check` never raises for a wrong answer: it returns a :class:`Result`
whose text says which case failed, what was expected and what came back.
"""

from __future__ import annotations

import dataclasses
import traceback
from typing import Callable

from gancourse.exercises import ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08, ch09

_REGISTRY: dict[str, "Exercise"] = {}


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise: its id, a one-line task, the reference and the grader."""

    id: str
    task: str
    reference: Callable
    grade: Callable[[Callable], None]  # raises AssertionError with a helpful message


@dataclasses.dataclass(frozen=True)
class Result:
    """Outcome of :func:`check`; true when the answer passed."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "PASSED" if self.passed else "NOT YET"
        return f"[{mark}] {self.exercise}: {self.message}"

    def _repr_pretty_(self, printer, cycle):  # IPython display
        printer.text(str(self))


def register(module) -> None:
    """Add every exercise a chapter module lists in ``EXERCISES``."""
    for exercise_id, (task, reference, grade) in module.EXERCISES.items():
        _REGISTRY[exercise_id] = Exercise(exercise_id, task, reference, grade)


register(ch01)
register(ch02)
register(ch03)
register(ch04)
register(ch05)
register(ch06)
register(ch07)
register(ch08)
register(ch09)


def list_exercises(prefix: str = "") -> list[str]:
    """Ids of the registered exercises that start with ``prefix`` (e.g. ``"04"``)."""
    return sorted(k for k in _REGISTRY if k.startswith(prefix))


def get(exercise_id: str) -> Exercise:
    """The exercise with this id; ``ValueError`` lists the valid ids otherwise."""
    if exercise_id not in _REGISTRY:
        raise ValueError(f"unknown exercise {exercise_id!r}; known exercises: {', '.join(list_exercises())}")
    return _REGISTRY[exercise_id]


def check(exercise_id: str, answer: Callable) -> Result:
    """Grade ``answer`` for the exercise ``exercise_id`` and return a :class:`Result`."""
    exercise = get(exercise_id)
    if not callable(answer):
        return Result(exercise_id, False, f"expected a function, got {type(answer).__name__}")
    try:
        exercise.grade(answer)
    except AssertionError as exc:
        return Result(exercise_id, False, str(exc))
    except Exception as exc:  # the reader's code raised: show where
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Result(exercise_id, False, f"your function raised {tb}")
    return Result(exercise_id, True, "all cases match the reference")
