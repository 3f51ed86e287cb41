"""What the whole-update fixture scripts share: CleanRL's minibatch loss (ppo.py's, which
ppo_continuous_action.py, ppo_atari.py and ppo_atari_lstm.py repeat), the check that a
batch keeps every sample away from the loss's branch points, and the seed search.
Imported by make_update_fixture.py, make_lstm_update_fixture.py and
make_atari_update_fixture.py; it writes nothing itself.
"""
import numpy as np
import torch

METRICS = ["pg_loss", "v_loss", "entropy_loss", "loss", "old_approx_kl", "approx_kl", "clipfrac", "grad_norm"]


def minibatch_loss(newlogprob, entropy, newvalue, batch, mb_inds, clip_coef, ent_coef, vf_coef, clip_vloss=True,
                   norm_adv=True):
    """CleanRL's loss on the minibatch `mb_inds` of `batch` (b_logprobs, b_advantages,
    b_returns, b_values), from the agent's newlogprob, entropy and newvalue. Returns the
    loss and the step's record: the logged numbers and what the margin checks read."""
    logratio = newlogprob - batch["b_logprobs"][mb_inds]
    ratio = logratio.exp()

    with torch.no_grad():
        # calculate approx_kl http://joschu.net/blog/kl-approx.html
        old_approx_kl = (-logratio).mean()
        approx_kl = ((ratio - 1) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean()

    mb_advantages = batch["b_advantages"][mb_inds]
    if norm_adv:
        mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

    # Policy loss
    pg_loss1 = -mb_advantages * ratio
    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()

    # Value loss
    newvalue = newvalue.view(-1)
    mb_returns, mb_values = batch["b_returns"][mb_inds], batch["b_values"][mb_inds]
    v_loss_unclipped = (newvalue - mb_returns) ** 2
    v_clipped = mb_values + torch.clamp(newvalue - mb_values, -clip_coef, clip_coef)
    v_loss_clipped = (v_clipped - mb_returns) ** 2
    if clip_vloss:
        v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
    else:
        v_loss = 0.5 * ((newvalue - mb_returns) ** 2).mean()

    entropy_loss = entropy.mean()
    loss = pg_loss - ent_coef * entropy_loss + v_loss * vf_coef
    record = {
        "pg_loss": pg_loss.detach(), "v_loss": v_loss.detach(),
        "entropy_loss": entropy_loss.detach(), "loss": loss.detach(),
        "old_approx_kl": old_approx_kl, "approx_kl": approx_kl, "clipfrac": clipfrac,
        # For the checks only.
        "ratio": ratio.detach(), "mb_advantages": mb_advantages,
        "dv": (newvalue - mb_values).detach(),
        "v_gap": (v_loss_unclipped - v_loss_clipped).detach(),
    }
    return loss, record


def margin_problem(steps, clip_coef, margin):
    """None if no step has a ratio, a value change, a tie of the value-loss max or a
    normalised advantage within `margin` of a branch point, and every step clips some
    ratio and not all; else what failed."""
    for k, s in enumerate(steps):
        r, dv, gap = s["ratio"], s["dv"], s["v_gap"]
        outside = dv.abs() > clip_coef
        if torch.any(((r - 1).abs() - clip_coef).abs() <= margin):
            return f"step {k}: a ratio within {margin} of 1 +- clip_coef"
        if torch.any((dv.abs() - clip_coef).abs() <= margin):
            return f"step {k}: a value within {margin} of the value clip"
        if torch.any(gap[outside].abs() <= margin):
            return f"step {k}: a tie in the value-loss max"
        if torch.any(s["mb_advantages"].abs() <= margin):
            return f"step {k}: a normalised advantage within {margin} of 0"
        if not 0.0 < s["clipfrac"].item() < 1.0:
            return f"step {k}: clipfrac {s['clipfrac'].item()}"
    return None


def first_passing_seed(seeds, attempt):
    """The first seed for which `attempt(seed)` returns (result, None), with its result;
    `attempt` returns (result, why) with `why` saying what failed. Raises if none passes,
    counting the reasons."""
    rejected = {}
    for seed in seeds:
        result, why = attempt(seed)
        if why is None:
            return seed, result, rejected
        why = why.split(": ", 1)[-1] if why.startswith("step ") else why
        rejected[why] = rejected.get(why, 0) + 1
    raise RuntimeError(f"no seed passed the checks: {rejected}")


def epoch_orders(seed, size, epochs):
    """Each epoch's order of 0..size, as CleanRL's np.random.shuffle of its index array
    makes them (each from the last), from numpy's default_rng(seed)."""
    rng = np.random.default_rng(seed)
    inds = np.arange(size)
    orders = []
    for _ in range(epochs):
        rng.shuffle(inds)
        orders.append(inds.copy())
    return orders
