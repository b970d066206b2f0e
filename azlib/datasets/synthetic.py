"""SynthActions: an articulated figure performing actions, written in the HMDB51 layout.

No dataset can be downloaded where azlib is tested, so it renders its own: a figure with thick
limbs (head, torso, upper/lower arms and legs) whose limbs move over time in a class-specific
way, over a textured background with static shapes, seen by a drifting camera (a crop window
moving over a larger canvas, so there are never black borders). The figure's size is the main
knob: the calibration measurements say small figures are unlearnable from scratch and that an
oracle crop fixes them, which is exactly what zooming is for.

Layout (the HMDB51 reader in splits.py loads it)::

    DIR/videos/<class>/<name>.avi           MPEG-4 Part 2, GoP 12, no B-frames (codec.encode_frames)
    DIR/boxes/<class>/<name>.npy            float32 (T, 4) figure box per frame, pixels x0,y0,x1,y1
    DIR/splits/<class>_test_split{1,2,3}.txt  lines "<name>.avi <id>", 1 train / 2 test / 0 unused
    DIR/synth_config.json                   the configuration that made it

Every random draw is seeded from (seed, class, actor, index), never from worker order, so the
same seed gives byte-identical split files and identical frames however many workers run.
"""

from __future__ import annotations

import json
import math
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from azlib.codec import GOP_SIZE, decode_rgb, encode_frames
from azlib.errors import ConfigError, DataError
from azlib.files import atomic_path, digest, read_json, remove_stale_partials, write_text
from azlib.parallel import parallel_map
from azlib.provenance import SYNTH_CODE, fingerprint
from azlib.settings import execution, result_dict

# Base frequency (cycles per second) of each motion; per-video speed multiplies it.
CLASS_FREQUENCY = {
    "wave_one_hand": 1.8,
    "wave_both_hands": 1.8,
    "clap": 2.2,
    "jumping_jack": 1.1,
    "squat": 0.7,
    "punch": 1.3,
    "side_kick": 0.8,
    "march_in_place": 1.1,
    "jump": 0.9,
    "bow": 0.55,
    "arm_circles": 1.4,
    "toe_touch": 0.55,
}
CLASSES = tuple(CLASS_FREQUENCY)
PLACEMENTS = ("centred", "uniform")
SPLITS = (1, 2, 3)
CONFIG_FILE = "synth_config.json"


# ---------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class SynthSettings:
    """What SynthActions looks like; every random draw follows from these and ``seed``."""

    seed: int = 0
    classes: tuple[Literal[CLASSES], ...] = CLASSES[:10]  # motions (see CLASS_FREQUENCY)
    actors: int = 4                      # identities; splits are made by actor
    videos_per_actor_class: int = 2
    train_fraction: float = 0.7          # share of actors in each split's training set
    width: int = 320                     # rendered frame size (even: yuv420p)
    height: int = 240
    fps: int = 25
    seconds: tuple[float, float] = (2.0, 3.0)          # video length range
    figure_height: tuple[float, float] = (0.25, 0.9)   # fraction of the frame height, log-uniform
    centre_offset: float = 0.05          # max |offset| of a centred figure, fraction of the frame
    placement: Literal[PLACEMENTS] = "centred"         # centred | uniform (anywhere in the frame)
    limb_width: float = 0.1              # fraction of the figure height
    background_texture: float = 0.3      # 0: plain colour; 1: strong blotchy texture
    background_shapes: int = 6           # static distractor shapes
    camera_motion: float = 0.02          # drift amplitude, fraction of the frame size
    camera_jitter: float = 0.0           # per-frame shake (std), fraction of the frame size
    moving_distractor: bool = False      # a class-independent bouncing ball
    speed: tuple[float, float] = (0.8, 1.25)       # x the class's base frequency
    amplitude: tuple[float, float] = (0.75, 1.15)  # x the motion's amplitude
    workers: int = execution(2)          # generator processes (the videos do not depend on it)

    def __post_init__(self):
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ConfigError(f"synth.classes: need at least 2 distinct classes, got {list(self.classes)}")
        for key in ("seconds", "figure_height", "speed", "amplitude"):
            low, high = getattr(self, key)
            if not 0 < low <= high:
                raise ConfigError(f"synth.{key}: expected [low, high] with 0 < low <= high, got {[low, high]}")
        if self.figure_height[1] > 1.5:
            raise ConfigError(f"synth.figure_height is a fraction of the frame height; got {list(self.figure_height)}")
        if self.actors < 2:
            raise ConfigError("synth.actors: need at least 2 actors (splits are made by actor)")
        if not 0 < self.train_fraction < 1:
            raise ConfigError(f"synth.train_fraction: expected a value in (0, 1), got {self.train_fraction}")
        for key in ("limb_width", "centre_offset", "camera_motion", "camera_jitter", "background_texture"):
            if getattr(self, key) < 0:
                raise ConfigError(f"synth.{key}: must be >= 0, got {getattr(self, key)}")
        if self.width % 2 or self.height % 2:
            raise ConfigError("synth.width / synth.height must be even (yuv420p)")
        if self.workers < 1:
            raise ConfigError(f"synth.workers: must be >= 1, got {self.workers}")

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# ---------------------------------------------------------------------------------------------
# The figure: pose (angles over time) -> joints (figure units) -> pixels


@dataclass(frozen=True)
class Actor:
    """One identity: proportions, clothes and personal style, shared by all its videos."""

    skin: tuple
    shirt: tuple
    trousers: tuple
    shoulder: float  # half-width of the shoulders, figure units
    arm: float  # upper arm + forearm length scale
    leg: float  # leg length scale
    head: float  # head radius scale
    tempo: float  # personal speed factor
    vigour: float  # personal amplitude factor


def make_actor(seed: int, actor: int) -> Actor:
    rng = np.random.default_rng([seed, 7919, actor])
    skin = tuple(int(v) for v in rng.choice([[241, 194, 160], [224, 172, 105], [198, 134, 66],
                                             [141, 85, 36], [255, 219, 172]]) + rng.integers(-12, 13, 3))
    return Actor(
        skin=tuple(int(np.clip(v, 0, 255)) for v in skin),
        shirt=tuple(int(v) for v in rng.integers(20, 236, 3)),
        trousers=tuple(int(v) for v in rng.integers(10, 200, 3)),
        shoulder=float(rng.uniform(0.09, 0.13)),
        arm=float(rng.uniform(0.9, 1.1)),
        leg=float(rng.uniform(0.92, 1.08)),
        head=float(rng.uniform(0.9, 1.15)),
        tempo=float(rng.uniform(0.9, 1.1)),
        vigour=float(rng.uniform(0.9, 1.1)),
    )


def _rest() -> dict:
    # Angles in radians from straight down, positive = away from the body's midline.
    # *_fore: projected length factor (a limb pointing at the camera looks shorter).
    return {
        "arm": [0.15, 0.15], "elbow": [0.0, 0.0], "arm_fore": [1.0, 1.0],
        "leg": [0.06, 0.06], "knee": [0.0, 0.0], "thigh_fore": [1.0, 1.0], "shin_fore": [1.0, 1.0],
        "pitch": 0.0, "lift": 0.0,
    }


def pose(motion: str, t: float, freq: float, phase: float, amp: float, side: int) -> dict:
    """Joint angles of ``motion`` at time ``t`` seconds. ``side`` (0/1) picks the active limb."""
    p = _rest()
    phi = 2 * math.pi * (freq * t) + phase
    s, c = math.sin(phi), (1 - math.cos(phi)) / 2  # c: 0 -> 1 -> 0 once per cycle
    other = 1 - side
    if motion in ("wave_one_hand", "wave_both_hands"):
        for i in ((side,) if motion == "wave_one_hand" else (0, 1)):
            p["arm"][i] = 2.5
            p["elbow"][i] = 0.35 + 0.55 * amp * s  # the forearm swings about the raised elbow
    elif motion == "clap":
        opened = amp * (1 + math.cos(phi)) / 2
        for i in (0, 1):
            p["arm"][i] = 0.35 + 0.25 * opened
            p["elbow"][i] = -2.1 + 1.7 * opened  # forearms meet in front of the chest when closed
    elif motion == "jumping_jack":
        for i in (0, 1):
            p["arm"][i] = 0.15 + 2.55 * amp * c
            p["leg"][i] = 0.06 + 0.32 * amp * c
        p["lift"] = 0.04 * amp * abs(math.sin(2 * phi))
    elif motion == "squat":
        for i in (0, 1):
            p["thigh_fore"][i] = math.cos(min(1.4, 1.25 * amp * c))
            p["shin_fore"][i] = math.cos(0.5 * amp * c)
            p["leg"][i] = 0.06 + 0.18 * c
            p["knee"][i] = -0.25 * c
            p["arm_fore"][i] = 1.0 - 0.6 * amp * c  # arms reach forward, towards the camera
            p["arm"][i] = 0.15 + 0.5 * c
    elif motion == "punch":
        for i, extension in ((side, max(0.0, s)), (other, max(0.0, -s))):
            e = extension ** 0.5  # fast strike, slower return
            p["arm"][i] = 1.15 + 0.42 * amp * e
            p["elbow"][i] = -2.5 * (1 - e)
    elif motion == "side_kick":
        kick = max(0.0, s) ** 0.7
        p["leg"][side] = 0.06 + 1.35 * amp * kick
        p["knee"][side] = -1.2 * (1 - kick) * min(1.0, 4 * c)
        p["leg"][other] = 0.0
        p["arm"][other] = 0.5 + 0.5 * kick  # balance
    elif motion == "march_in_place":
        for i, up in ((side, max(0.0, s)), (other, max(0.0, -s))):
            p["thigh_fore"][i] = math.cos(1.3 * amp * up)
            p["knee"][i] = 0.0
            p["arm"][1 - i] = 0.15 + 0.35 * up
            p["arm_fore"][1 - i] = 1.0 - 0.3 * up
    elif motion == "jump":
        air = max(0.0, s)
        crouch = max(0.0, -s)
        p["lift"] = 0.22 * amp * air
        for i in (0, 1):
            p["thigh_fore"][i] = math.cos(0.9 * amp * crouch)
            p["shin_fore"][i] = math.cos(0.4 * amp * crouch)
            p["arm"][i] = 0.15 + 1.6 * amp * air
    elif motion == "bow":
        p["pitch"] = 1.15 * amp * c
        for i in (0, 1):
            p["arm"][i] = 0.1
    elif motion == "arm_circles":
        for i in (0, 1):
            p["arm"][i] = math.pi / 2 + 0.35 * amp * math.sin(phi)
            p["arm_fore"][i] = 1.0 - 0.25 * amp * (1 + math.cos(phi)) / 2
    elif motion == "toe_touch":
        p["pitch"] = 1.3 * amp * c
        for i in (0, 1):
            p["arm"][i] = 0.15 - 0.3 * c
            p["arm_fore"][i] = 1.0 + 0.0 * c
    else:
        raise ConfigError(f"synth.classes: unknown motion {motion!r}; choose from {', '.join(CLASSES)}")
    return p


def joints(p: dict, actor: Actor) -> dict:
    """Joint positions in figure units: y up, feet on y = 0 when standing, midline x = 0."""
    thigh, shin = 0.245 * actor.leg, 0.235 * actor.leg
    torso, neck, head_r = 0.30, 0.035, 0.062 * actor.head
    upper_arm, forearm = 0.165 * actor.arm, 0.155 * actor.arm
    out = {"segments": [], "head": None}
    # Legs set the hip height: the lower of the two feet stays on the ground (or the jump lifts it).
    leg_drop = []
    for i in (0, 1):
        a, k = p["leg"][i], p["knee"][i]
        t_len, s_len = thigh * p["thigh_fore"][i], shin * p["shin_fore"][i]
        knee = (math.sin(a) * t_len, -math.cos(a) * t_len)
        foot = (knee[0] + math.sin(a + k) * s_len, knee[1] - math.cos(a + k) * s_len)
        leg_drop.append((knee, foot))
    ground = -min(foot[1] for _, foot in leg_drop)  # hip height above the lowest foot
    hip_y = ground + p["lift"]
    hip_half = 0.065
    for i, (knee, foot) in enumerate(leg_drop):
        sgn = -1 if i == 0 else 1
        hip = (sgn * hip_half, hip_y)
        k = (hip[0] + sgn * knee[0], hip_y + knee[1])
        f = (hip[0] + sgn * foot[0], hip_y + foot[1])
        out["segments"] += [("trousers", hip, k, 1.15), ("trousers", k, f, 1.0)]
    # Torso pitched towards the camera looks shorter; the head follows the shoulders down.
    torso_len = torso * math.cos(p["pitch"])
    shoulder_y = hip_y + torso_len
    out["segments"].append(("shirt", (0.0, hip_y), (0.0, shoulder_y), 2.1))
    for i in (0, 1):
        sgn = -1 if i == 0 else 1
        sh = (sgn * actor.shoulder, shoulder_y)
        a, e, f = p["arm"][i], p["elbow"][i], p["arm_fore"][i]
        el = (sh[0] + sgn * math.sin(a) * upper_arm * f, sh[1] - math.cos(a) * upper_arm * f)
        ha = (el[0] + sgn * math.sin(a + e) * forearm * f, el[1] - math.cos(a + e) * forearm * f)
        out["segments"] += [("shirt", (0.0, shoulder_y), sh, 1.3), ("shirt", sh, el, 1.0),
                            ("skin", el, ha, 0.9)]
    head_y = shoulder_y + (neck + head_r) * (1.0 - 0.45 * math.sin(p["pitch"]))
    out["head"] = ((0.0, head_y), head_r)
    return out


def _figure_extent(j: dict, half_width: float) -> tuple[float, float, float, float]:
    """Bounding box (x0, y0, x1, y1) of the drawn figure in figure units, limb thickness included."""
    pts = np.array([(x, y, thickness) for _, a, b, thickness in j["segments"] for x, y in (a, b)])
    reach = half_width * pts[:, 2]
    (hx, hy), hr = j["head"]
    x0 = min((pts[:, 0] - reach).min(), hx - hr)
    x1 = max((pts[:, 0] + reach).max(), hx + hr)
    y0 = min((pts[:, 1] - reach).min(), hy - hr)
    y1 = max((pts[:, 1] + reach).max(), hy + hr)
    return x0, y0, x1, y1


# ---------------------------------------------------------------------------------------------
# One video


def _colour_far_from(rng, avoid: list, min_dist: float = 90.0) -> tuple:
    for _ in range(50):
        colour = rng.integers(0, 256, 3)
        if all(np.abs(colour - np.asarray(a)).sum() >= min_dist for a in avoid):
            break
    return tuple(int(v) for v in colour)


def _background(rng, size: tuple[int, int], synth: SynthSettings, avoid: list) -> Image.Image:
    """Static scene: a base colour, low-frequency texture and distractor shapes."""
    width, height = size
    base = np.asarray(_colour_far_from(rng, avoid, 150.0), dtype=np.float32)
    # Texture: smooth noise blobs plus fine grain, amplitude set by synth.background_texture.
    coarse = rng.normal(0, 1, (6, 8, 3)).astype(np.float32)
    blobs = np.asarray(Image.fromarray(((coarse + 4) * 32).clip(0, 255).astype(np.uint8)).resize(
        (width, height), Image.BILINEAR), dtype=np.float32) / 32 - 4
    grain = rng.normal(0, 0.5, (height, width, 1)).astype(np.float32)
    amplitude = 40.0 * float(synth.background_texture)
    canvas = Image.fromarray((base + amplitude * (blobs + grain)).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(synth.background_shapes)):
        w = rng.uniform(0.04, 0.16) * height
        h = rng.uniform(0.04, 0.16) * height
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        colour = _colour_far_from(rng, avoid, 90.0)
        box = [x, y, x + w, y + h]
        kind = rng.integers(3)
        if kind == 0:
            draw.rectangle(box, fill=colour)
        elif kind == 1:
            draw.ellipse(box, fill=colour)
        else:
            draw.polygon([(x, y + h), (x + w / 2, y), (x + w, y + h)], fill=colour)
    return canvas


def video_seed(seed: int, cls: str, actor: int, index: int) -> list[int]:
    """Per-video seed from (seed, class, actor, index): independent of worker order."""
    return [int(seed), zlib.crc32(cls.encode()), int(actor), int(index)]


def render_video(synth: SynthSettings, cls: str, actor_id: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Render one video: RGB frames uint8 (T, H, W, 3) and figure boxes float32 (T, 4) in pixels."""
    rng = np.random.default_rng(video_seed(synth.seed, cls, actor_id, index))
    actor = make_actor(synth.seed, actor_id)
    width, height, fps = int(synth.width), int(synth.height), int(synth.fps)
    num_frames = int(round(rng.uniform(*synth.seconds) * fps))

    # Camera: a crop window drifting (and optionally jittering) over a larger canvas.
    drift = float(synth.camera_motion) * max(width, height)
    jitter = float(synth.camera_jitter) * max(width, height)
    margin = int(math.ceil(drift + 2 * jitter)) + 1
    canvas_size = (width + 2 * margin, height + 2 * margin)
    start, end = rng.uniform(-drift, drift, 2), rng.uniform(-drift, drift, 2)
    steps = np.linspace(0.0, 1.0, num_frames)[:, None]
    shake = np.clip(rng.normal(0, 1, (num_frames, 2)) * jitter, -2 * jitter, 2 * jitter)
    offsets = margin + start + (end - start) * steps + shake
    offsets = np.rint(np.clip(offsets, 0, 2 * margin)).astype(int)

    # Figure placement in frame coordinates, relative to the camera window at rest.
    lo, hi = synth.figure_height
    fig_h = height * math.exp(rng.uniform(math.log(lo), math.log(hi)))
    if synth.placement == "uniform":
        half_w = 0.35 * fig_h
        cx = rng.uniform(min(half_w, width / 2), max(width - half_w, width / 2))
        cy = rng.uniform(min(fig_h / 2, height / 2), max(height - fig_h / 2, height / 2))
    else:
        off = float(synth.centre_offset)
        cx = width / 2 + rng.uniform(-off, off) * width
        cy = height / 2 + rng.uniform(-off, off) * height
    cx, cy = cx + margin, cy + margin  # canvas coordinates

    # Motion: speed, phase, amplitude, handedness; appearance jitter per video.
    freq = CLASS_FREQUENCY[cls] * rng.uniform(*synth.speed) * actor.tempo
    phase = rng.uniform(0, 2 * math.pi)
    amp = min(1.3, rng.uniform(*synth.amplitude) * actor.vigour)
    side = int(rng.integers(2))
    shade = rng.uniform(0.85, 1.15)
    colours = {k: tuple(int(np.clip(v * shade, 0, 255)) for v in getattr(actor, k))
               for k in ("skin", "shirt", "trousers")}
    background = _background(rng, canvas_size, synth, list(colours.values()))

    limb = float(synth.limb_width)  # figure units: a fraction of the standing height
    standing = _figure_extent(joints(_rest(), actor), limb / 2)
    scale = fig_h / (standing[3] - standing[1])  # pixels per figure unit
    foot_y = cy + fig_h / 2 + standing[1] * scale  # canvas y of y = 0

    distractor = None
    if synth.moving_distractor:
        radius = rng.uniform(0.04, 0.08) * height
        pos = rng.uniform([radius, radius], [canvas_size[0] - radius, canvas_size[1] - radius])
        vel = rng.uniform(-1, 1, 2) * rng.uniform(2, 6)
        distractor = (radius, pos, vel, _colour_far_from(rng, list(colours.values()), 90.0))

    def to_px(pt):
        return (cx + pt[0] * scale, foot_y - pt[1] * scale)

    frames = np.empty((num_frames, height, width, 3), np.uint8)
    boxes = np.empty((num_frames, 4), np.float32)
    line_px = max(1, int(round(limb * scale)))
    for t in range(num_frames):
        j = joints(pose(cls, t / fps, freq, phase, amp, side), actor)
        image = background.copy()
        draw = ImageDraw.Draw(image)
        if distractor is not None:
            radius, pos, vel, colour = distractor
            p = pos + vel * t
            span = np.asarray(canvas_size) - 2 * radius  # bounce inside the canvas
            p = radius + np.abs((p - radius + 2 * span) % (2 * span) - span)
            draw.ellipse([p[0] - radius, p[1] - radius, p[0] + radius, p[1] + radius], fill=colour)
        for colour_key, a, b, thickness in j["segments"]:
            w = max(1, int(round(line_px * thickness)))
            pa, pb = to_px(a), to_px(b)
            draw.line([pa, pb], fill=colours[colour_key], width=w)
            r = w / 2
            for q in (pa, pb):  # round joints
                draw.ellipse([q[0] - r, q[1] - r, q[0] + r, q[1] + r], fill=colours[colour_key])
        (hx, hy), hr = j["head"]
        hx, hy = to_px((hx, hy))
        hr = hr * scale
        draw.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=colours["skin"])
        x0, y0, x1, y1 = _figure_extent(j, limb / 2)
        ox, oy = offsets[t]
        frames[t] = np.asarray(image)[oy:oy + height, ox:ox + width]
        left, top = to_px((x0, y1))
        right, bottom = to_px((x1, y0))
        boxes[t] = [left - ox, top - oy, right - ox, bottom - oy]
    np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
    return frames, boxes


# ---------------------------------------------------------------------------------------------
# The dataset


def video_name(cls: str, actor: int, index: int) -> str:
    return f"{cls}_a{actor:02d}_v{index:02d}"


def split_actors(synth: SynthSettings, split: int) -> set[int]:
    """Training actors of ``split``; the others are test actors (same for every class)."""
    actors = int(synth.actors)
    rng = np.random.default_rng([int(synth.seed), 104729, int(split)])
    n_train = min(actors - 1, max(1, int(round(float(synth.train_fraction) * actors))))
    return set(int(a) for a in rng.permutation(actors)[:n_train])


def _jobs(synth: SynthSettings) -> list[tuple[str, int, int]]:
    return [(cls, actor, index) for cls in synth.classes for actor in range(int(synth.actors))
            for index in range(int(synth.videos_per_actor_class))]


def _paths(root: Path, cls: str, name: str) -> tuple[Path, Path]:
    return root / "videos" / cls / f"{name}.avi", root / "boxes" / cls / f"{name}.npy"


def _make_one(root: str, synth: SynthSettings, cls: str, actor: int, index: int) -> float:
    """Worker: render, encode and record one video; returns the seconds it took."""
    began = time.perf_counter()
    video, box_file = _paths(Path(root), cls, video_name(cls, actor, index))
    frames, boxes = render_video(synth, cls, actor, index)
    encode_frames(frames, video, fps=int(synth.fps), gop=GOP_SIZE)
    with atomic_path(box_file) as tmp:  # written last: its presence marks the video complete
        np.save(tmp, boxes)
    return time.perf_counter() - began


def identity(synth: SynthSettings) -> dict:
    """What a SynthActions folder is checked against: the settings that decide its videos and the
    fingerprint of the generator's code (:data:`azlib.provenance.SYNTH_CODE`)."""
    return {"settings": result_dict(synth), "code": fingerprint(SYNTH_CODE)}


def generate(out_dir: str | os.PathLike, synth: SynthSettings, progress: bool = True) -> Path:
    """Write SynthActions under ``out_dir`` (HMDB51 layout); skips videos already written, and
    removes the temporary files of a generator that was killed."""
    root = Path(out_dir)
    wanted = identity(synth)
    config_path = root / CONFIG_FILE
    if config_path.exists() and read_json(config_path) != wanted:
        raise DataError(f"{root} holds SynthActions made with other settings or code ({config_path}); "
                        "choose another output directory or delete it")
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(root)
    write_text(config_path, json.dumps(wanted, indent=2, sort_keys=True) + "\n")

    todo = [(str(root), synth, *job) for job in _jobs(synth)
            if not all(p.exists() for p in _paths(root, job[0], video_name(*job)))]
    for _ in parallel_map(_make_one, todo, workers=synth.workers, desc=f"SynthActions -> {root}",
                          unit="video", progress=progress):
        pass

    for cls in synth.classes:
        names = [video_name(cls, a, i) for a in range(int(synth.actors))
                 for i in range(int(synth.videos_per_actor_class))]
        for split in SPLITS:
            train = split_actors(synth, split)
            lines = [f"{n}.avi {1 if int(n.split('_a')[-1][:2]) in train else 2}\n" for n in names]
            write_text(root / "splits" / f"{cls}_test_split{split}.txt", "".join(lines))
    return root


def load_boxes(root: str | os.PathLike, record) -> np.ndarray:
    """True figure box per frame of ``record`` (a VideoRecord), float32 (T, 4) pixels x0,y0,x1,y1."""
    path = Path(record.path)
    box_file = Path(root) / "boxes" / path.parent.name / f"{path.stem}.npy"
    if not box_file.is_file():
        raise DataError(f"{box_file}: no figure boxes for {path}; boxes exist only for "
                        "SynthActions (regenerate it with `python -m azlib synth`)")
    return np.load(box_file).astype(np.float32)


def frame_size(root: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of the frames the boxes of ``root`` refer to."""
    config = Path(root) / CONFIG_FILE
    if not config.is_file():
        raise DataError(f"{config}: not a SynthActions directory (no {CONFIG_FILE})")
    settings = read_json(config)["settings"]
    return int(settings["height"]), int(settings["width"])


def contact_sheet(root: str | os.PathLike, index, per_class: int = 2, columns: int = 4) -> np.ndarray:
    """Middle frames of the first ``per_class`` test videos of each class, with their class name
    and true figure box drawn in: an RGB uint8 grid for the book."""
    tiles = []
    for label, cls in enumerate(index.classes):
        for record in [r for r in index.test + index.train if r.label == label][:per_class]:
            frames = decode_rgb(record.path)
            middle = len(frames) // 2
            image = Image.fromarray(frames[middle])
            draw = ImageDraw.Draw(image)
            draw.rectangle([float(v) for v in load_boxes(root, record)[middle]], outline=(255, 0, 0), width=2)
            draw.rectangle([0, 0, 7 * len(cls) + 6, 14], fill=(0, 0, 0))
            draw.text((3, 2), cls, fill=(255, 255, 255))
            tiles.append(np.asarray(image))
    if not tiles:
        raise DataError(f"{root}: no videos to show")
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)


def dataset_root(out_dir: str | os.PathLike, synth: SynthSettings) -> Path:
    """Where SynthActions with these settings, made by this code, lives under ``out_dir``: one
    folder per :func:`identity`, so variants never mix and a changed generator never reuses one."""
    return Path(out_dir) / "data" / f"synthactions-{digest(identity(synth), 8)}"
