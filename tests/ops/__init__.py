"""Tests of the linear operators."""
