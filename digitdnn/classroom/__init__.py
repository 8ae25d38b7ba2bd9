"""The classroom: a lesson the teacher leads and a class challenge."""
