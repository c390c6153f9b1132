# The `if __name__ == "__main__"` guard runs.
def main():
    print("main() ran")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
print("imported, not run")
