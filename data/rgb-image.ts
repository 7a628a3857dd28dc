// An 8-bit RGB image, row-major, 3 bytes a pixel: the one in-memory image type of the data layer.
export interface RgbImage {
  width: number;
  height: number;
  /** length width * height * 3, pixel (x, y) at 3 * (y * width + x). */
  data: Uint8Array;
}

export function createRgbImage(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}
