"""The lesson bar (above the drawing): the step of the teacher's lesson, its sentences for the projector, "Follow
the teacher" for students, and for the teacher "Start the lesson", "Back", "Next step" and "End the lesson".

The lesson lives in the class store (server_state.class_store().lessons: classroom.sqlite on one server, PostgreSQL
across replicas): running or not, its step, the lesson file's text, and a version that every start, move and end
raises. The bar is a fragment polling it (every LESSON_POLL_SECONDS while a lesson runs or on the teacher's page,
else IDLE_POLL_SECONDS; that poll also notices a new class challenge, see challenge_board.changed). When the
version differs from the one the page last saw, the page keeps the step's setup
(Session.lesson_pending, unless the student switched "Follow the teacher" off) and reruns whole; apply_pending puts
it into the widgets' keys at the top of that run, before any widget is drawn. A page opened mid-lesson so sets
itself up for the current step. Moves are compare-and-set on the version the teacher's page showed: of two teacher
tabs (or a double click) one moves, the other is told where the lesson is.
"""
from __future__ import annotations

import logging

import streamlit as st

from digitdnn.classroom.lesson_file import Lesson, LessonError, load_lesson, parse_lesson
from digitdnn.ui import challenge_board, page_address, server_state, state, step_setup, teacher_key
from digitdnn.ui.text import plain, without_paths

LESSON_POLL_SECONDS = 2.0   # a running lesson's bar (and the teacher's) asks the class store this often
IDLE_POLL_SECONDS = 10.0    # without a lesson: a start (or a new challenge) is seen within this; each poll costs
                            # the server a fragment run per page, so an idle class polls slowly
FOLLOW_KEY = "lesson_follow"  # students' "Follow the teacher" toggle
NOTICE = "lesson"             # the notice slot of the teacher's buttons
PRESENTER_STYLE = """<style>
.st-key-lesson p { font-size: 1.45rem; }
.st-key-lesson [data-testid=stCaptionContainer] p { font-size: 1.3rem; line-height: 1.45; }
</style>"""
_LOG = logging.getLogger(__name__)


def apply_pending() -> None:
    """Set the page up for the step the bar saw last (called at the top of every full run, before any widget)."""
    session = state.session()
    setup, session.lesson_pending = session.lesson_pending, None
    if setup is not None:
        step_setup.apply(setup)


def show() -> None:
    """The lesson bar, polling the class store on its own."""
    try:
        current = server_state.class_store().lessons.current()
    except server_state.class_store_errors():
        current = None  # the bar says so itself
    if page_address.presenter():
        st.html(PRESENTER_STYLE)
    polling = current is not None and current.running or teacher_key.is_teacher()
    st.fragment(_bar, run_every=LESSON_POLL_SECONDS if polling else IDLE_POLL_SECONDS)()


def _bar() -> None:
    """One poll: follow a new step (a rerun of the whole page), else draw the bar."""
    session, teacher = state.session(), teacher_key.is_teacher()
    try:
        current = server_state.class_store().lessons.current()
        lesson = stored_lesson(current.sha256) if current is not None and current.running else None
    except server_state.class_store_errors() + (LessonError,) as exc:
        _LOG.warning("the lesson cannot be read: %s", exc)
        with st.container(key="lesson", border=True):
            st.caption(f"The lesson cannot be read just now: {without_paths(exc)}")
        return
    if current is not None and current.version != session.lesson_version:
        session.lesson_version = current.version
        if lesson is not None and (teacher or following()):
            session.lesson_pending = step_setup.for_page(lesson, current.step, teacher)
        st.rerun(scope="app")
    if session.lesson_pending is not None:  # the teacher's own move, from a button of this fragment
        st.rerun(scope="app")
    if challenge_board.changed():  # a challenge opened or closed: the page shows its form and board
        st.rerun(scope="app")
    if lesson is None and not teacher:
        return
    with st.container(key="lesson", border=True):
        if current is not None and lesson is not None:
            step = lesson.steps[min(current.step, len(lesson.steps)) - 1]
            st.markdown(f"**Step {current.step} of {current.steps}** · {plain(step.title)}")
            st.caption("  \n".join(plain(sentence) for sentence in step.say))
        if teacher:
            _teacher_buttons(current if lesson is not None else None)
        else:
            st.toggle("Follow the teacher", value=True, key=FOLLOW_KEY, on_change=_follow_changed,
                      help="On: your page shows what the teacher's step shows. Nothing you drew or trained is lost.")
        state.show_notice(NOTICE)


def following() -> bool:
    """Whether this student's page follows the teacher's steps ("Follow the teacher", on unless switched off)."""
    return st.session_state.get(FOLLOW_KEY, True) is not False


@st.cache_resource(max_entries=4, show_spinner=False)
def stored_lesson(sha256: str) -> Lesson:
    """The lesson the class store holds under `sha256`, parsed once per server (a poll reads only the state)."""
    text = server_state.class_store().lessons.lesson_text(sha256)
    if text is None:  # another lesson was started meanwhile: the next poll sees it (nothing is cached)
        raise LessonError("the teacher has just started another lesson")
    return parse_lesson(text, "The lesson")


def _teacher_buttons(current) -> None:
    """Start (with the lesson file's title, or why it cannot be used), or Back, Next step and End."""
    with st.container(horizontal=True, vertical_alignment="center", key="lesson_buttons"):
        if current is None:
            try:
                lesson = load_lesson()
            except LessonError as exc:
                st.error(without_paths(exc))
                return
            st.button("Start the lesson", key="lesson_start", on_click=_start, type="primary")
            st.caption(f"{plain(lesson.title)}: {len(lesson.steps)} steps. Every page in the class follows it.")
            return
        st.button("Back", key="lesson_back", on_click=_move, args=(current.version, current.step - 1),
                  disabled=current.step <= 1)
        st.button("Next step", key="lesson_next", on_click=_move, args=(current.version, current.step + 1),
                  disabled=current.step >= current.steps, type="primary")
        st.button("End the lesson", key="lesson_end", on_click=_end, args=(current.version,))


def _start() -> None:
    if not teacher_key.is_teacher():
        return
    try:
        lesson = load_lesson()
        started = server_state.class_store().lessons.start(lesson.text, lesson.sha256, len(lesson.steps))
    except LessonError as exc:
        state.notify(NOTICE, "error", without_paths(exc))
        return
    except server_state.class_store_errors() as exc:
        _LOG.warning("the lesson could not be started", exc_info=True)
        state.notify(NOTICE, "error", f"The lesson could not be started: {without_paths(exc)}")
        return
    _set_up(started.version, lesson, started.step)


def _move(version: int, step: int) -> None:
    """Back or Next step: to `step`, if the lesson is still at `version` (the one this page showed)."""
    if not teacher_key.is_teacher():
        return
    try:
        lessons = server_state.class_store().lessons
        moved = lessons.move(version, step)
        if moved is None:
            _moved_elsewhere(lessons.current())
            return
        lesson = stored_lesson(moved.sha256)
    except server_state.class_store_errors() + (LessonError,) as exc:
        _LOG.warning("the lesson could not move", exc_info=True)
        state.notify(NOTICE, "error", f"The lesson did not move: {without_paths(exc)}")
        return
    _set_up(moved.version, lesson, moved.step)


def _end(version: int) -> None:
    if not teacher_key.is_teacher():
        return
    try:
        lessons = server_state.class_store().lessons
        ended = lessons.end(version)
        if ended is None:
            _moved_elsewhere(lessons.current())
            return
    except server_state.class_store_errors() as exc:
        _LOG.warning("the lesson could not end", exc_info=True)
        state.notify(NOTICE, "error", f"The lesson did not end: {without_paths(exc)}")
        return
    state.session().lesson_version = ended.version
    state.notify(NOTICE, "info", "The lesson has ended; students' pages stay as they are.")


def _moved_elsewhere(current) -> None:
    """A move or end that lost the compare-and-set: say where the lesson is (the next poll follows it)."""
    where = (f"it is at step {current.step}." if current is not None and current.running
             else "it has ended.")
    state.notify(NOTICE, "warning", f"The lesson had moved on in another tab: {where}")


def _set_up(version: int, lesson: Lesson, step: int) -> None:
    """The teacher's page applies its own move at once: the bar's fragment reruns the page for it."""
    session = state.session()
    session.lesson_version = version
    session.lesson_pending = step_setup.for_page(lesson, step, teacher=True)
    state.clear_notice(NOTICE)


def _follow_changed() -> None:
    """"Follow the teacher" switched on again: the current step applies at once."""
    if following():
        state.session().lesson_version = 0
