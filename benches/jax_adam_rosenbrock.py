"""The issue's JAX baseline: 1,000,000 Adam steps on Rosenbrock (lr 1e-3 from (-1.2, 1)) as one
fused `lax.scan` loop, Algorithm 1 line by line, best of 5 after a compiling run.

    pip install "jax[cpu]"
    python3 benches/jax_adam_rosenbrock.py        # float32, JAX's default
    python3 benches/jax_adam_rosenbrock.py x64    # float64, as gradc computes

Compare with `cargo bench --bench pipeline -- adam` on the same machine.
"""
import sys
import time

import jax

jax.config.update("jax_enable_x64", len(sys.argv) > 1 and sys.argv[1] == "x64")
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8
STEPS = 1_000_000


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


gradient = jax.grad(rosenbrock)


def step(carry, t):
    x, m, v = carry
    g = gradient(x)
    m = B1 * m + (1 - B1) * g
    v = B2 * v + (1 - B2) * g * g
    m_hat = m / (1 - B1**t)
    v_hat = v / (1 - B2**t)
    x = x - LR * m_hat / (jnp.sqrt(v_hat) + EPS)
    return (x, m, v), None


@jax.jit
def run(x0):
    zero = jnp.zeros_like(x0)
    ts = jnp.arange(1, STEPS + 1, dtype=x0.dtype)
    (x, _, _), _ = lax.scan(step, (x0, zero, zero), ts)
    return x


x0 = jnp.array([-1.2, 1.0])
run(x0).block_until_ready()
best = float("inf")
for _ in range(5):
    start = time.perf_counter()
    x = run(x0).block_until_ready()
    best = min(best, time.perf_counter() - start)
print(f"{x0.dtype}: best of 5 {best / STEPS * 1e9:.1f} ns/step, x = {x}")
