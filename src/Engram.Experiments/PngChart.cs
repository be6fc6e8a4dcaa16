// A small line chart written as PNG with no native dependency: series drawn on a white canvas with axes, tick
// labels and a legend in a built-in 5×7 pixel font, encoded with zlib from System.IO.Compression.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Engram.Experiments;

public sealed class PngChart(int width = 720, int height = 440)
{
    public sealed record Series(string Name, double[] X, double[] Y);

    readonly byte[] _rgb = Enumerable.Repeat((byte)255, width * height * 3).ToArray();
    static readonly (byte R, byte G, byte B)[] Palette = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
        (23, 190, 207), (140, 86, 75), (127, 127, 127), (188, 189, 34), (227, 119, 194)];

    void Pixel(int x, int y, (byte R, byte G, byte B) c)
    {
        if ((uint)x >= (uint)width || (uint)y >= (uint)height) return;
        int o = (y * width + x) * 3;
        _rgb[o] = c.R; _rgb[o + 1] = c.G; _rgb[o + 2] = c.B;
    }

    void Line(double x0, double y0, double x1, double y1, (byte, byte, byte) c, int thick = 1)
    {
        int steps = (int)Math.Max(Math.Abs(x1 - x0), Math.Abs(y1 - y0)) + 1;
        for (int i = 0; i <= steps; i++)
        {
            double t = (double)i / steps;
            int x = (int)Math.Round(x0 + (x1 - x0) * t), y = (int)Math.Round(y0 + (y1 - y0) * t);
            for (int dx = -(thick / 2); dx <= thick / 2; dx++) for (int dy = -(thick / 2); dy <= thick / 2; dy++) Pixel(x + dx, y + dy, c);
        }
    }

    void Text(string s, int x, int y, (byte, byte, byte) c)
    {
        foreach (char ch in s)
        {
            if (Font.TryGetValue(char.ToLowerInvariant(ch), out var rows))
                for (int r = 0; r < 7; r++) for (int col = 0; col < 5; col++) if (rows[r][col] == '#') Pixel(x + col, y + r, c);
            x += 6;
        }
    }

    /// <summary>Draws the series (x on a log10 axis when logX) with y in [yMin, yMax] and writes the PNG. The x axis is
    /// marked at `xTicks`, or at every x of the series when null; `markers` draws a dot at every point.</summary>
    public void Save(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series, bool logX, double yMin,
        double yMax, Func<double, string> xTick, IReadOnlyList<double>? xTicks = null, bool markers = true)
    {
        const int left = 60, right = 170, top = 30, bottom = 50;
        int pw = width - left - right, ph = height - top - bottom;
        var xs = series.SelectMany(s => s.X).Select(v => logX ? Math.Log10(v) : v).ToArray();
        double xMin = xs.Min(), xMax = xs.Max();
        if (xMax == xMin) { xMin -= 1; xMax += 1; }
        double Px(double v) => left + ((logX ? Math.Log10(v) : v) - xMin) / (xMax - xMin) * pw;
        double Py(double v) => top + ph - (v - yMin) / (yMax - yMin) * ph;
        var black = ((byte)0, (byte)0, (byte)0); var grey = ((byte)220, (byte)220, (byte)220);
        for (int i = 0; i <= 4; i++)
        {
            double v = yMin + (yMax - yMin) * i / 4;
            Line(left, Py(v), left + pw, Py(v), grey);
            Text($"{v:0.##}", 8, (int)Py(v) - 3, black);
        }
        foreach (var v in xTicks ?? [.. series.SelectMany(s => s.X).Distinct().Order()])
        {
            Line(Px(v), top, Px(v), top + ph, grey);
            var label = xTick(v);
            Text(label, (int)Px(v) - label.Length * 3, top + ph + 8, black);
        }
        Line(left, top, left, top + ph, black); Line(left, top + ph, left + pw, top + ph, black);
        Text(title, left, 10, black);
        Text(xLabel, left + pw / 2 - xLabel.Length * 3, height - 20, black);
        Text(yLabel, 8, top - 14, black);
        for (int s = 0; s < series.Count; s++)
        {
            var c = Palette[s % Palette.Length];
            var pts = series[s].X.Zip(series[s].Y).OrderBy(p => p.First).ToArray();
            for (int i = 0; i + 1 < pts.Length; i++)
                Line(Px(pts[i].First), Py(pts[i].Second), Px(pts[i + 1].First), Py(pts[i + 1].Second), c, 3);
            foreach (var (x, y) in markers ? pts : [])
                for (int dx = -3; dx <= 3; dx++) for (int dy = -3; dy <= 3; dy++) Pixel((int)Px(x) + dx, (int)Py(y) + dy, c);
            int ly = top + 10 + s * 16;
            for (int dx = 0; dx < 16; dx++) for (int dy = -1; dy <= 1; dy++) Pixel(left + pw + 12 + dx, ly + 3 + dy, c);
            Text(series[s].Name, left + pw + 34, ly, black);
        }
        Write(path);
    }

    void Write(string path)
    {
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width); BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
        Chunk(png, "IHDR", ihdr);
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            for (int y = 0; y < height; y++) { z.WriteByte(0); z.Write(_rgb, y * width * 3, width * 3); }
        Chunk(png, "IDAT", raw.ToArray());
        Chunk(png, "IEND", []);
        Engram.Tensors.IO.AtomicFile.WriteAllBytes(path, png.ToArray());
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, data.Length); s.Write(b);
        var td = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type, td); data.CopyTo(td, 4);
        s.Write(td);
        BinaryPrimitives.WriteUInt32BigEndian(b, Crc32(td)); s.Write(b);
    }

    static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var x in data) { c ^= x; for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1; }
        return ~c;
    }

    static readonly Dictionary<char, string[]> Font = new()
    {
        ['0'] = [" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "],
        ['1'] = ["  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
        ['2'] = [" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"],
        ['3'] = ["#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "],
        ['4'] = ["   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "],
        ['5'] = ["#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "],
        ['6'] = ["  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "],
        ['7'] = ["#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "],
        ['8'] = [" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "],
        ['9'] = [" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "],
        ['a'] = ["     ", "     ", " ### ", "    #", " ####", "#   #", " ####"],
        ['b'] = ["#    ", "#    ", "#### ", "#   #", "#   #", "#   #", "#### "],
        ['c'] = ["     ", "     ", " ### ", "#    ", "#    ", "#   #", " ### "],
        ['d'] = ["    #", "    #", " ####", "#   #", "#   #", "#   #", " ####"],
        ['e'] = ["     ", "     ", " ### ", "#   #", "#####", "#    ", " ### "],
        ['f'] = ["  ## ", " #  #", " #   ", "###  ", " #   ", " #   ", " #   "],
        ['g'] = ["     ", " ####", "#   #", "#   #", " ####", "    #", " ### "],
        ['h'] = ["#    ", "#    ", "# ## ", "##  #", "#   #", "#   #", "#   #"],
        ['i'] = ["  #  ", "     ", " ##  ", "  #  ", "  #  ", "  #  ", " ### "],
        ['j'] = ["   # ", "     ", "  ## ", "   # ", "   # ", "#  # ", " ##  "],
        ['k'] = ["#    ", "#    ", "#  # ", "# #  ", "##   ", "# #  ", "#  # "],
        ['l'] = [" ##  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "],
        ['m'] = ["     ", "     ", "## # ", "# # #", "# # #", "#   #", "#   #"],
        ['n'] = ["     ", "     ", "# ## ", "##  #", "#   #", "#   #", "#   #"],
        ['o'] = ["     ", "     ", " ### ", "#   #", "#   #", "#   #", " ### "],
        ['p'] = ["     ", "     ", "#### ", "#   #", "#### ", "#    ", "#    "],
        ['q'] = ["     ", "     ", " ####", "#   #", " ####", "    #", "    #"],
        ['r'] = ["     ", "     ", "# ## ", "##  #", "#    ", "#    ", "#    "],
        ['s'] = ["     ", "     ", " ####", "#    ", " ### ", "    #", "#### "],
        ['t'] = [" #   ", " #   ", "###  ", " #   ", " #   ", " #  #", "  ## "],
        ['u'] = ["     ", "     ", "#   #", "#   #", "#   #", "#  ##", " ## #"],
        ['v'] = ["     ", "     ", "#   #", "#   #", "#   #", " # # ", "  #  "],
        ['w'] = ["     ", "     ", "#   #", "#   #", "# # #", "# # #", " # # "],
        ['x'] = ["     ", "     ", "#   #", " # # ", "  #  ", " # # ", "#   #"],
        ['y'] = ["     ", "     ", "#   #", "#   #", " ####", "    #", " ### "],
        ['z'] = ["     ", "     ", "#####", "   # ", "  #  ", " #   ", "#####"],
        ['.'] = ["     ", "     ", "     ", "     ", "     ", " ##  ", " ##  "],
        ['-'] = ["     ", "     ", "     ", "#####", "     ", "     ", "     "],
        ['('] = ["   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # "],
        [')'] = [" #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   "],
        ['%'] = ["##   ", "##  #", "   # ", "  #  ", " #   ", "#  ##", "   ##"],
        ['/'] = ["     ", "    #", "   # ", "  #  ", " #   ", "#    ", "     "],
        ['×'] = ["     ", "#   #", " # # ", "  #  ", " # # ", "#   #", "     "],
        [','] = ["     ", "     ", "     ", "     ", " ##  ", "  #  ", " #   "],
        ['+'] = ["     ", "  #  ", "  #  ", "#####", "  #  ", "  #  ", "     "],
        [':'] = ["     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     "],
    };
}
