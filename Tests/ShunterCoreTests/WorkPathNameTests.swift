import ShunterCore
import Testing

@Suite struct WorkPathNameTests {
    @Test func namesInsideTheDirectoryPass() {
        for name in ["a", "RESULT", "sub/x", "a.b/c..d", "...", ".hidden", "x y"] {
            #expect(WorkPathName.problem(with: name) == nil, "\(name)")
        }
    }

    @Test func namesThatLeaveOrNameNoFileAreRefused() {
        let cases: [(String, WorkPathName.Problem)] = [
            ("", .empty), ("/etc/passwd", .absolute), ("..", .parentDirectory), ("../../../x", .parentDirectory),
            ("a/../../b", .parentDirectory), ("a//b", .emptyComponent), ("a/", .emptyComponent),
            (".", .currentDirectory),
            ("./x", .currentDirectory), ("a\u{0}b", .nul), ("a//../b", .parentDirectory),
        ]
        for (name, problem) in cases {
            #expect(WorkPathName.problem(with: name) == problem, "\(name)")
        }
    }
}
