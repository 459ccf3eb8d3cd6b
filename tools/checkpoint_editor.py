"""Checkpoint editor: place, move, order and check the gates of a track, then save them.

    python tools/checkpoint_editor.py tracks/circuit.png [--checkpoints tracks/checkpoints.json]

Gates are segments across the track, numbered in driving order; gate 0 is start/finish (drawn
thick, with an arrow for the direction). The window shows warnings for gates that do not span
the asphalt, gates out of order and gaps that are too long. Saving writes this track's entry
into checkpoints.json through karting.track.save_track_entry (other tracks' entries kept, the
file replaced atomically). Press H in the window for the keys.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from karting.cli import options
from karting.track import (
    GATE_SPACING_M,
    TrackError,
    build_track,
    default_checkpoints_path,
    load_checkpoints_file,
    resolve_track_path,
    save_track_entry,
)
from karting.track.gates import auto_gates, check_gates

HELP = """\
mouse  left click, left click   add a gate (inserted in driving order)
       left drag on a gate end  move that end
       left click on a gate     select it
       right/middle drag, arrows  pan        wheel  zoom        F  fit
keys   Delete / Backspace  remove the selected gate
       [ / ]    move the selected gate earlier / later in the order
       S        make the selected gate start/finish
       2 / 3    the selected gate starts sector 2 / sector 3
       R        reverse the driving direction
       A        auto: gates from the centre line every SPACING m;  + / -  change SPACING
       C / L / T  show centre line / racing line / sectors
       Ctrl+Z  undo     Ctrl+Y or Ctrl+Shift+Z  redo     Ctrl+S  save
       Esc  cancel     H or F1  this help     Q  quit (twice if unsaved)"""


def draw_direction(ed) -> None:
    """An arrow from gate 0 towards gate 1: the driving direction."""
    m, pg = ed.model, ed.pg
    if len(m.gates) < 2:
        return
    a = m.gates[0].mean(axis=0)
    b = m.gates[1].mean(axis=0)
    d = b - a
    d = d / max(np.linalg.norm(d), 1e-9)
    p0 = ed.to_screen(a)
    p1 = p0 + d * 40
    n = np.array([-d[1], d[0]])
    pg.draw.line(ed.screen, (255, 255, 255), p0, p1, 3)
    pg.draw.polygon(ed.screen, (255, 255, 255), [p1 + d * 10, p1 + n * 7, p1 - n * 7])

def draw_panels(ed, chk) -> None:
    """The header (track, gates, length, saved or not) and the gate problems at the bottom."""
    m, pg, scr = ed.model, ed.pg, ed.screen
    w, h = scr.get_size()
    pg.draw.rect(scr, (20, 20, 20), (0, 0, w, 26))
    head = (f"{m.png.name}  {len(m.gates)} gates  {m.base.length:.0f} m  spacing {m.spacing_m:.0f} m"
            f"  {'UNSAVED' if m.dirty else 'saved'}   {ed.message}")
    scr.blit(ed.font.render(head, True, (230, 230, 230)), (8, 5))
    lines = chk.problems[:8] + ([f"... and {len(chk.problems) - 8} more"] if len(chk.problems) > 8 else [])
    for k, text in enumerate(reversed(lines)):
        surf = ed.font.render("! " + text, True, (255, 90, 90), (20, 20, 20))
        scr.blit(surf, (8, h - 22 - 18 * k))

def draw_help(ed) -> None:
    """The keys and mouse actions, over the track."""
    pg, scr = ed.pg, ed.screen
    lines = HELP.splitlines()
    surf = pg.Surface((760, 20 * len(lines) + 20), pg.SRCALPHA)
    surf.fill((0, 0, 0, 215))
    for k, line in enumerate(lines):
        surf.blit(ed.font.render(line, True, (240, 240, 240)), (12, 10 + 20 * k))
    scr.blit(surf, (40, 50))


class EditorModel:
    """The gates of one track and every edit on them, with undo/redo; no pygame here."""

    def __init__(self, png, checkpoints=None):
        self.png = resolve_track_path(png)
        self.cp_path = Path(checkpoints) if checkpoints else default_checkpoints_path(self.png)
        self.entry = load_checkpoints_file(self.cp_path)["tracks"].get(self.png.name, {})
        base_entry = {k: v for k, v in self.entry.items() if k in ("scale_m_per_px", "direction", "start")}
        where = f"{self.cp_path}: tracks[{self.png.name!r}]"
        self.notice = ""
        try:
            self.base = build_track(self.png, base_entry, where=where)   # centre line, widths, surface
        except TrackError as e:
            if ".start:" not in str(e):
                raise
            # a start pose off the image or the asphalt: open without it (gate 0 is the start
            # line the editor saves), so the user can fix the track here
            base_entry.pop("start")
            self.base = build_track(self.png, base_entry, where=where)
            self.notice = f"ignored the saved start pose ({str(e).split('.start: ', 1)[1]}); Ctrl+S saves without it"
        self.base_direction = base_entry.get("direction", "clockwise")
        self.spacing_m = GATE_SPACING_M
        if "checkpoints" in self.entry:
            self.gates = np.asarray(self.entry["checkpoints"], np.float64).reshape(-1, 2, 2)
            self.sectors = list(self.entry["sectors"]) if "sectors" in self.entry else None
        else:
            self.gates = auto_gates(self.base, self.spacing_m)
            self.sectors = None
        self.undo_stack, self.redo_stack = [], []
        # "dirty" = changed since opened or saved (derived gates shown at opening count as clean;
        # Ctrl+S still writes them)
        self.saved = self._snapshot()
        self._check = None

    # ------------------------------------------------------------ state
    def _snapshot(self):
        return (self.gates.copy(), None if self.sectors is None else list(self.sectors))

    def _restore(self, snap):
        self.gates, self.sectors = snap[0].copy(), None if snap[1] is None else list(snap[1])
        self._check = None

    def begin(self):
        """Call before every edit: what undo returns to."""
        self.undo_stack.append(self._snapshot())
        self.redo_stack.clear()
        self._check = None

    def _travel(self, src, dst):
        if not src:
            return False
        dst.append(self._snapshot())
        self._restore(src.pop())
        return True

    def undo(self):
        return self._travel(self.undo_stack, self.redo_stack)

    def redo(self):
        return self._travel(self.redo_stack, self.undo_stack)

    @property
    def dirty(self):
        return not (np.array_equal(self.saved[0], self.gates) and self.saved[1] == self.sectors)

    @property
    def check(self):
        if self._check is None:
            self._check = check_gates(self.base, self.gates)
        return self._check

    # ------------------------------------------------------------ edits
    def _s_of(self, gate):
        mid = self.base.pixel_to_world(np.asarray(gate).mean(axis=0))
        return float(self.base.project(mid[0], mid[1])[1])

    def add_gate(self, p1, p2):
        """Insert a gate where it belongs in driving order; returns its index."""
        self.begin()
        new = np.array([p1, p2], np.float64)
        k = len(self.gates)
        if k < 2:
            i = k
        else:
            L = self.base.length
            sign = -1.0 if self.check_reversed() else 1.0
            s0 = self._s_of(self.gates[0])
            rel = lambda g: np.mod(sign * (self._s_of(g) - s0), L)  # noqa: E731
            r = rel(new)
            i = 1 + int(np.sum([rel(g) < r for g in self.gates[1:]]))
        self.gates = np.insert(self.gates, i, new, axis=0)
        self._shift_sectors(i, +1)
        return i

    def check_reversed(self):
        return len(self.gates) >= 3 and bool(check_gates(self.base, self.gates).reversed)

    def move_end(self, i, end, p):
        self.gates[i, end] = p
        self._check = None

    def delete(self, i):
        self.begin()
        self.gates = np.delete(self.gates, i, axis=0)
        self._shift_sectors(i, -1)

    def reorder(self, i, delta):
        j = i + delta
        if not (0 <= j < len(self.gates)) or i == 0 or j == 0:
            return i                       # start/finish moves with S, not here
        self.begin()
        self.gates[[i, j]] = self.gates[[j, i]]
        return j

    def set_start(self, i):
        if i == 0:
            return
        self.begin()
        self.gates = np.roll(self.gates, -i, axis=0)
        self.sectors = None                # sector gates were relative to the old start

    def reverse(self):
        self.begin()
        self.gates = np.concatenate([self.gates[:1], self.gates[1:][::-1]])
        self.sectors = None

    def auto(self):
        self.begin()
        start = 0
        if len(self.gates):
            mid = self.base.pixel_to_world(self.gates[0].mean(axis=0))
            start = int(self.base.project(mid[0], mid[1])[0])
        g = auto_gates(self.base, self.spacing_m, start)
        self.gates = g if not self.check_reversed() else np.concatenate([g[:1], g[1:][::-1]])
        self.sectors = None

    def set_sector(self, which, i):
        """Gate ``i`` starts sector ``which`` (2 or 3); returns an error message or ''."""
        cur = list(self.sectors) if self.sectors else list(self.derived_sectors())
        cur[which - 2] = i
        if not 0 < cur[0] < cur[1] < len(self.gates):
            return "sectors must start at gates in order: 0 < sector 2 < sector 3"
        self.begin()
        self.sectors = cur
        return ""

    def derived_sectors(self):
        k = len(self.gates)
        return (max(1, k // 3), max(2, 2 * k // 3))

    def _shift_sectors(self, i, d):
        if self.sectors is None:
            return
        s = [v + d if v >= i else v for v in self.sectors]
        self.sectors = s if 0 < s[0] < s[1] < len(self.gates) else None

    # ------------------------------------------------------------ saving
    def entry_to_save(self):
        e = {k: v for k, v in self.entry.items() if k == "scale_m_per_px"}
        flip = {"clockwise": "counterclockwise", "counterclockwise": "clockwise"}
        e["direction"] = flip[self.base_direction] if self.check.reversed else self.base_direction
        e["checkpoints"] = [[[round(float(v), 2) for v in p] for p in g] for g in self.gates]
        if self.sectors is not None:
            e["sectors"] = [int(v) for v in self.sectors]
        return e

    def save(self):
        """Write the entry; returns the problems that remain (saved anyway, so no work is lost)."""
        save_track_entry(self.png.name, self.entry_to_save(), self.cp_path)
        self.saved = self._snapshot()
        return list(self.check.problems)


SECTOR_COLOURS = ((60, 200, 90), (40, 170, 255), (230, 70, 230))


class Editor:
    """The pygame window around an :class:`EditorModel`."""

    def __init__(self, model: EditorModel, size=(1200, 800)):
        import pygame
        self.pg = pygame
        pygame.init()
        pygame.display.set_caption(f"karting checkpoint editor: {model.png.name}")
        self.screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        self.model = model
        self.image = pygame.image.load(str(model.png)).convert()
        self.font = pygame.font.SysFont("dejavusansmono,monospace", 14)
        self.small = pygame.font.SysFont("dejavusansmono,monospace", 11)
        self.show = {"centre": True, "racing": True, "sectors": True, "help": False}
        self.pending = None
        self.drag = None
        self.pan = False
        self.selected = None
        self.message = model.notice or "H: help"
        self.quit_armed = False
        self.running = True
        tr = model.base
        self.centre_px = tr.world_to_pixel(tr.centre)
        self.racing_px = tr.world_to_pixel(tr.racing_line)
        self.fit()

    # ------------------------------------------------------------ view
    def fit(self):
        w, h = self.screen.get_size()
        iw, ih = self.image.get_size()
        self.zoom = min(w / iw, (h - 60) / ih)
        self.offset = np.array([(w - iw * self.zoom) / 2, 30 + (h - 60 - ih * self.zoom) / 2])

    def to_screen(self, p):
        return np.asarray(p, np.float64) * self.zoom + self.offset

    def to_image(self, pos):
        return (np.asarray(pos, np.float64) - self.offset) / self.zoom

    def zoom_at(self, pos, factor):
        pos = np.asarray(pos, np.float64)
        before = self.to_image(pos)
        self.zoom = float(np.clip(self.zoom * factor, 0.05, 40.0))
        self.offset = pos - before * self.zoom

    def hit(self, pos, radius=9):
        """('end', i, j) for a gate end near ``pos``, ('gate', i) for a gate, or None."""
        g = self.to_screen(self.model.gates)
        if not len(g):
            return None
        d = np.linalg.norm(g - np.asarray(pos, np.float64), axis=2)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        if d[i, j] <= radius:
            return ("end", int(i), int(j))
        a, b = g[:, 0], g[:, 1]
        ab = b - a
        along = np.einsum("ij,ij->i", np.asarray(pos) - a, ab)
        t = np.clip(along / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-9), 0, 1)
        dist = np.linalg.norm(a + ab * t[:, None] - np.asarray(pos), axis=1)
        k = int(np.argmin(dist))
        return ("gate", k) if dist[k] <= radius / 1.5 else None

    # ------------------------------------------------------------ events
    def handle(self, e):  # noqa: C901  (one flat dispatch over event types: the event map at a glance)
        pg = self.pg
        m = self.model
        if e.type == pg.QUIT:
            self.request_quit()
        elif e.type == pg.VIDEORESIZE:
            self.screen = pg.display.set_mode(e.size, pg.RESIZABLE)
        elif e.type == pg.MOUSEWHEEL:
            self.zoom_at(pg.mouse.get_pos(), 1.2 ** e.y)
        elif e.type == pg.MOUSEBUTTONDOWN and e.button == 1:
            h = self.hit(e.pos)
            if self.pending is None and h and h[0] == "end":
                m.begin()
                self.drag = h[1:]
                self.selected = h[1]
            elif self.pending is None and h and h[0] == "gate":
                self.selected = h[1]
                self.message = f"gate {h[1]} selected"
            elif self.pending is None:
                self.pending = self.to_image(e.pos)
                self.message = "click the other side of the track to finish the gate (Esc cancels)"
            else:
                self.selected = m.add_gate(self.pending, self.to_image(e.pos))
                self.pending = None
                self.message = f"added gate {self.selected}"
        elif e.type == pg.MOUSEBUTTONDOWN and e.button in (2, 3):
            self.pan = True
        elif e.type == pg.MOUSEBUTTONDOWN and e.button in (4, 5):     # wheel on SDL < 2.0.18
            self.zoom_at(e.pos, 1.2 if e.button == 4 else 1 / 1.2)
        elif e.type == pg.MOUSEBUTTONUP:
            if e.button == 1 and self.drag is not None:
                self.drag = None
                if m.undo_stack and np.array_equal(m.undo_stack[-1][0], m.gates):
                    m.undo_stack.pop()         # a click without a move is not an edit
            self.pan = False if e.button in (2, 3) else self.pan
        elif e.type == pg.MOUSEMOTION:
            if self.drag is not None:
                m.move_end(self.drag[0], self.drag[1], self.to_image(e.pos))
            elif self.pan:
                self.offset = self.offset + np.asarray(e.rel, np.float64)
        elif e.type == pg.KEYDOWN:
            self.key(e)

    def key(self, e):  # noqa: C901  (one flat dispatch over keys: the key map at a glance)
        pg, m = self.pg, self.model
        ctrl = e.mod & pg.KMOD_CTRL
        shift = e.mod & pg.KMOD_SHIFT
        sel = self.selected if self.selected is not None and self.selected < len(m.gates) else None
        if e.key != pg.K_q:
            self.quit_armed = False
        if ctrl and e.key == pg.K_z and not shift:
            self.message = "undone" if m.undo() else "nothing to undo"
        elif ctrl and (e.key == pg.K_y or (e.key == pg.K_z and shift)):
            self.message = "redone" if m.redo() else "nothing to redo"
        elif ctrl and e.key == pg.K_s:
            self.save()
        elif e.key in (pg.K_DELETE, pg.K_BACKSPACE) and sel is not None:
            m.delete(sel)
            self.message = f"deleted gate {sel}"
            self.selected = None
        elif e.key in (pg.K_LEFTBRACKET, pg.K_RIGHTBRACKET, pg.K_PAGEUP, pg.K_PAGEDOWN) and sel is not None:
            d = -1 if e.key in (pg.K_LEFTBRACKET, pg.K_PAGEUP) else 1
            self.selected = m.reorder(sel, d)
            self.message = f"gate {sel} is now gate {self.selected}"
        elif e.key == pg.K_s and sel is not None:
            m.set_start(sel)
            self.selected = 0
            self.message = "start/finish moved; gates renumbered"
        elif e.key in (pg.K_2, pg.K_3) and sel is not None:
            which = 2 if e.key == pg.K_2 else 3
            err = m.set_sector(which, sel)
            self.message = err or f"sector {which} starts at gate {sel}"
        elif e.key == pg.K_r:
            m.reverse()
            self.message = "direction reversed"
        elif e.key == pg.K_a:
            m.auto()
            self.message = f"{len(m.gates)} gates every {m.spacing_m:.0f} m from the centre line"
        elif e.key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS, pg.K_MINUS, pg.K_KP_MINUS):
            up = e.key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS)
            m.spacing_m = float(np.clip(m.spacing_m + (5 if up else -5), 5, 200))
            self.message = f"auto spacing {m.spacing_m:.0f} m (press A to apply)"
        elif e.key == pg.K_c:
            self.show["centre"] ^= True
        elif e.key == pg.K_l:
            self.show["racing"] ^= True
        elif e.key == pg.K_t:
            self.show["sectors"] ^= True
        elif e.key in (pg.K_h, pg.K_F1):
            self.show["help"] ^= True
        elif e.key == pg.K_f:
            self.fit()
        elif e.key == pg.K_ESCAPE:
            self.pending, self.selected, self.show["help"] = None, None, False
        elif e.key in (pg.K_LEFT, pg.K_RIGHT, pg.K_UP, pg.K_DOWN):
            step = {pg.K_LEFT: (40, 0), pg.K_RIGHT: (-40, 0), pg.K_UP: (0, 40), pg.K_DOWN: (0, -40)}
            self.offset = self.offset + np.asarray(step[e.key], np.float64)
        elif e.key == pg.K_q:
            self.request_quit()

    def save(self):
        try:
            problems = self.model.save()
        except (TrackError, OSError) as err:
            self.message = f"NOT SAVED: {err}"
            return
        self.message = (f"saved to {self.model.cp_path}" +
                        (f" with {len(problems)} warning(s)" if problems else ""))

    def request_quit(self):
        if self.model.dirty and not self.quit_armed:
            self.quit_armed = True
            self.message = "unsaved changes: Ctrl+S saves; press Q (or close) again to quit without saving"
        else:
            self.running = False

    # ------------------------------------------------------------ drawing
    def draw(self):
        pg, m = self.pg, self.model
        scr = self.screen
        scr.fill((90, 90, 90))
        iw, ih = self.image.get_size()
        # scale only the visible part of the image
        w, h = scr.get_size()
        x0, y0 = np.floor(np.maximum(self.to_image((0, 0)), 0)).astype(int)
        x1, y1 = np.ceil(np.minimum(self.to_image((w, h)), (iw, ih))).astype(int)
        if x1 > x0 and y1 > y0:
            sub = self.image.subsurface(pg.Rect(x0, y0, x1 - x0, y1 - y0))
            tl = self.to_screen((x0, y0))
            size = (max(1, int(round((x1 - x0) * self.zoom))), max(1, int(round((y1 - y0) * self.zoom))))
            scr.blit(pg.transform.scale(sub, size), (int(round(tl[0])), int(round(tl[1]))))
        if self.show["centre"]:
            pg.draw.lines(scr, (170, 170, 170), True, self.to_screen(self.centre_px).tolist(), 1)
        if self.show["racing"]:
            pg.draw.lines(scr, (255, 150, 0), True, self.to_screen(self.racing_px).tolist(), 2)
        chk = m.check
        sectors = m.sectors or m.derived_sectors()
        for i, g in enumerate(self.to_screen(m.gates)):
            sector = 0 if i < sectors[0] else 1 if i < sectors[1] else 2
            col = SECTOR_COLOURS[sector] if self.show["sectors"] else (40, 170, 255)
            if i in chk.bad:
                col = (255, 40, 40)
            width = 5 if i == 0 else 2
            if i == self.selected:
                pg.draw.line(scr, (255, 255, 0), g[0], g[1], width + 4)
            pg.draw.line(scr, (255, 255, 255) if i == 0 else col, g[0], g[1], width)
            for p in g:
                pg.draw.circle(scr, col, p, 4)
            label = self.small.render(str(i) + (" S/F" if i == 0 else ""), True, (255, 255, 255), (0, 0, 0))
            scr.blit(label, g[0] + 6)
        draw_direction(self)
        if self.pending is not None:
            p = self.to_screen(self.pending)
            pg.draw.circle(scr, (255, 255, 0), p, 5)
            pg.draw.line(scr, (255, 255, 0), p, pg.mouse.get_pos(), 1)
        draw_panels(self, chk)
        if self.show["help"]:
            draw_help(self)

    def step(self):
        """Handle the queued events and draw one frame (the test's entry point)."""
        for e in self.pg.event.get():
            self.handle(e)
        self.draw()
        self.pg.display.flip()

    def run(self):
        clock = self.pg.time.Clock()
        while self.running:
            self.step()
            clock.tick(60)
        self.pg.quit()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python tools/checkpoint_editor.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=HELP)
    ap.add_argument("png", help="track PNG (path or shipped name)")
    options.checkpoints(ap)
    options.size(ap, "1200x800")
    ap.add_argument("--screenshot", help="draw one frame into this PNG and exit")
    args = ap.parse_args(argv)
    try:
        model = EditorModel(args.png, args.checkpoints)
    except TrackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        assert len(size) == 2 and min(size) >= 200
    except (ValueError, AssertionError):
        ap.error(f"--size {args.size!r}: give WIDTHxHEIGHT, e.g. 1200x800")
    from karting.extras import MissingExtra, require
    try:
        pygame = require("pygame", "gui")
    except MissingExtra as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        ed = Editor(model, size)
    except pygame.error as e:
        print(f"error: cannot open a window ({e}); on a machine without a display set "
              "SDL_VIDEODRIVER=dummy (only useful with --screenshot)", file=sys.stderr)
        return 2
    if args.screenshot:
        ed.selected = min(5, len(model.gates) - 1)
        ed.draw()
        pygame.image.save(ed.screen, args.screenshot)
        print(f"wrote {args.screenshot}")
        pygame.quit()
        return 0
    ed.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
