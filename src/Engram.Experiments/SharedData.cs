// Finding ../shared/data (the public corpora tests and benchmarks may read): the nearest folder named shared/data, at or
// above a starting directory, that holds what is asked for.
namespace Engram.Experiments;

public static class SharedData
{
    /// <summary>The first shared/data folder, walking up from each of `starts` in turn, for which `holds` is true; null
    /// when there is none.</summary>
    public static string? Find(Func<string, bool> holds, params string[] starts)
    {
        foreach (var start in starts)
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var data = Path.Combine(d.FullName, "shared", "data");
                if (holds(data)) return data;
            }
        return null;
    }
}
