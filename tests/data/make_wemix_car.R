# WeMix's "summary output format" test case (tests/testthat/test-1-main.R of
# the WeMix repository): lme4's sleepstudy ordered by a grouping of subjects,
# with a logical `car` drawn by runif after set.seed(2); the model
# Reaction ~ Days + (car || Subject), which lmer and WeMix fit at
# logLik -890.6816.
#
# Run from the project root:  setarch -R Rscript tests/data/make_wemix_car.R
# Writes tests/data/wemix_car.csv and tests/data/lme4_wemix_car.json.
suppressMessages({
  library(lme4)
  library(jsonlite)
})
ss <- sleepstudy
ss$Group <- 1
ss$Group <- ifelse(ss$Subject %in% c("310", "309", "349", "335"), 2, ss$Group)
ss$Group <- ifelse(ss$Subject %in% c("330", "352", "337", "369"), 3, ss$Group)
ss$Group <- ifelse(ss$Subject %in% c("331", "332", "334", "372"), 4, ss$Group)
ss$Group <- factor(ss$Group)
ss <- ss[order(ss$Group, ss$Subject), ]
ss$carPr <- pnorm(ss$Reaction - 285, sd = 50)
set.seed(2)
ss$car <- runif(180) < ss$carPr
write.csv(ss[, c("Reaction", "Days", "Subject", "car")],
          file.path("tests", "data", "wemix_car.csv"), row.names = FALSE)

fits <- list(
  nloptwrap = lmer(Reaction ~ Days + (car || Subject), data = ss, REML = FALSE,
                   control = lmerControl(optimizer = "nloptwrap", calc.derivs = FALSE,
                                         optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12))),
  bobyqa = lmer(Reaction ~ Days + (car || Subject), data = ss, REML = FALSE,
                control = lmerControl(optimizer = "bobyqa", calc.derivs = FALSE,
                                      optCtrl = list(rhoend = 1e-12, maxfun = 1e5))))
llf <- vapply(fits, function(m) as.numeric(logLik(m)), numeric(1))
best <- fits[[which.max(llf)]]
Z <- t(as.matrix(getME(best, "Zt")))
Lambda <- as.matrix(getME(best, "Lambda"))
V <- sigma(best)^2 * Lambda %*% t(Lambda)
out <- list(source = sprintf("lme4 %s, %s", packageVersion("lme4"), R.version.string),
            formula = "Reaction ~ Days + (car||Subject)", llf = max(llf),
            llf_all = as.list(llf), fixef = as.list(fixef(best)), sigma2 = sigma(best)^2,
            row_variances = unname(rowSums((Z %*% V) * Z)))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path("tests", "data", "lme4_wemix_car.json"))
