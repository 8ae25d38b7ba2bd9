"""Digits to learn from: MNIST (found, fetched, verified, cached), real people's pen digits, and training sets built
from both."""
