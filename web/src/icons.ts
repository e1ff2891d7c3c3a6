// A few line icons as inline SVG (bundled; no icon font or emoji font needed).
const SVG = "http://www.w3.org/2000/svg";

const SHAPES: Record<string, string[]> = {
  paperclip: ["path:M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48"],
  video: ["polygon:23 7 16 12 23 17 23 7", "rect:1 5 15 14"],
  mic: ["rect:9 2 6 12", "path:M5 10v1a7 7 0 0 0 14 0v-1", "path:M12 18v4"],
  file: ["path:M13 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9z", "polyline:13 2 13 9 20 9"],
};

export function icon(name: keyof typeof SHAPES): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  for (const [key, value] of Object.entries({
    viewBox: "0 0 24 24", width: "20", height: "20", fill: "none", stroke: "currentColor",
    "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true",
    class: "icon",
  })) svg.setAttribute(key, value);
  for (const shape of SHAPES[name]) {
    const [tag, data] = shape.split(":");
    const el = document.createElementNS(SVG, tag);
    if (tag === "path") el.setAttribute("d", data);
    else if (tag === "rect") {
      const [x, y, width, height] = data.split(" ");
      Object.entries({ x, y, width, height, rx: "2" }).forEach(([k, v]) => el.setAttribute(k, v));
    } else el.setAttribute("points", data);
    svg.append(el);
  }
  return svg;
}
