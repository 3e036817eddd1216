"""The app's CSS: labels and buttons above the pictures, never on them; rows that wrap on a phone."""

from __future__ import annotations

CSS = """
/* Component labels and their icon buttons sit above the content instead of floating over it. */
label.float[data-testid="block-label"] { position: static !important; margin: 4px 0 4px 4px !important; }
.top-panel { position: static !important; margin: 0 4px 4px auto !important; width: fit-content; }
/* Galleries of figures: as many columns as fit, so a phone wraps them instead of hiding some. */
.figure-row .grid-container {
  grid-template-columns: repeat(auto-fill, minmax(min(100%, var(--figure-min, 250px)), 1fr)) !important;
  grid-template-rows: none !important;
}
.figure-row .fixed-height { min-height: 0 !important; max-height: none !important; }
.figure-row .grid-wrap { overflow-y: visible !important; }
#overview { --figure-min: 220px; }
#s_thumbs { --figure-min: 150px; }
#r_runs { --figure-min: 200px; }
#t_outs { --figure-min: 190px; }
#q_chart { --figure-min: 420px; }
#q_disagreed { --figure-min: 520px; }
/* A wide strip of crops shrinks to its box instead of being cut at the sides. */
#t_crops img { max-width: 100% !important; height: auto !important; object-fit: contain !important; }
/* On a phone the crop strip keeps a readable size and scrolls sideways inside its box (its
   captions are drawn in the picture). */
@media (max-width: 640px) {
  #t_crops .image-frame { overflow-x: auto !important; justify-content: flex-start !important; }
  #t_crops img { max-width: none !important; width: 640px !important; }
}
.figure-row .thumbnail-item { aspect-ratio: auto !important; height: auto !important; }
.figure-row .thumbnail-item img { height: auto !important; object-fit: contain !important; }
/* A caption under its picture, whole and wrapped, instead of a cut-off badge over it. */
.figure-row .caption-label { position: static !important; max-width: none !important;
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  border: none !important; background: transparent !important; }
/* A quiz trial on a phone: the reference across the screen, A and B side by side under it, so
   a student compares them without scrolling. */
@media (max-width: 640px) {
  #q_pics { flex-wrap: wrap !important; flex-direction: row !important; gap: 8px !important; }
  #q_pics > #q_ref { flex: 1 1 100% !important; }
  #q_pics > #q_a, #q_pics > #q_b { flex: 1 1 calc(50% - 4px) !important; min-width: 0 !important; }
}
/* The Predict → Do → Notice box at the top of each lesson. */
.pdn { border-left: 4px solid #0072b2; background: #f4f8fb; padding: 8px 14px !important;
       border-radius: 6px; }
.pdn p { margin: 4px 0 !important; }
/* Tables: never break a number or a header inside a word. */
table td, table th { overflow-wrap: normal !important; word-break: normal !important; }
"""
