// The CLI is a .NET tool: packed, installed into a folder of its own and run as `engram`, as a user would.
using System.Diagnostics;

namespace Engram.Cli.Tests;

public class PackagingTests
{
    static (int Code, string Output) Run(string file, string args, int seconds)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {args} did not finish in {seconds} s");
        }
        return (p.ExitCode, output.Result + error.Result);
    }

    [Fact]
    public void TheCliPacksAsAToolThatInstallsAndRuns()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Engram.slnx")))
            root = Path.GetDirectoryName(root) ?? throw new Xunit.Sdk.XunitException("no repository");
        var temp = Path.Combine(Path.GetTempPath(), "engram-tool-" + Guid.NewGuid());
        try
        {
            var packages = Path.Combine(temp, "packages");
            var pack = Run("dotnet", $"pack \"{Path.Combine(root, "src", "Engram.Cli")}\" -c Release -o \"{packages}\"", 600);
            Assert.True(pack.Code == 0, pack.Output);
            var package = Assert.Single(Directory.GetFiles(packages, "engram.*.nupkg"));
            var version = Path.GetFileNameWithoutExtension(package)["engram.".Length..];
            var tools = Path.Combine(temp, "tools");
            var install = Run("dotnet", $"tool install engram --version {version} --tool-path \"{tools}\" --add-source \"{packages}\"",
                300);
            Assert.True(install.Code == 0, install.Output);
            var help = Run(Path.Combine(tools, "engram"), "--help", 60);
            Assert.Equal(0, help.Code);
            Assert.Contains("learn", help.Output);
            Assert.Contains("compress", help.Output);
        }
        finally { if (Directory.Exists(temp)) Directory.Delete(temp, true); }
    }
}
