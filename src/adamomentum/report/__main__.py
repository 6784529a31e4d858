from adamomentum.report.cli import main

main()
